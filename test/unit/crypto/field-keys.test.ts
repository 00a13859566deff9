// HKDF-SHA256 (src/crypto/hkdf.ts) and the field subkeys built on it
// (src/crypto/field-keys.ts).
//
// Vectors: test/vectors/kdf-rfc/hkdf-rfc5869-sha256.txt (RFC 5869 Appendix A.1 to
// A.3, via pyca/cryptography) and test/vectors/wycheproof/hkdf_sha256_test.json
// (C2SP/wycheproof testvectors_v1, 86 cases: 83 valid, 3 invalid "SizeTooLarge").
import { createHmac, hkdfSync } from 'node:crypto'
import { expect } from 'chai'
import {
  FIELD_ENC_INFO,
  FIELD_MAC_INFO,
  deriveFieldKeys,
  hmacPads,
} from '../../../src/crypto/field-keys.js'
import { HKDF_SHA256_MAX_OUTPUT_BYTES, hkdfSha256 } from '../../../src/crypto/hkdf.js'
import { hmacPadsForKey } from '../../../src/crypto/hmac.js'
import {
  expectError,
  hex,
  parseRsp,
  readVectorJson,
  readVectorText,
  type WycheproofFile,
} from './helpers.js'

describe('crypto/hkdf: RFC 5869 Appendix A (SHA-256)', () => {
  const records = parseRsp(readVectorText('kdf-rfc/hkdf-rfc5869-sha256.txt'))

  it('has the 3 SHA-256 cases', () => {
    expect(records).to.have.length(3)
  })

  for (const r of records) {
    it(`A.${r['COUNT']}: OKM (and PRK = HMAC(salt, IKM))`, () => {
      const okm = hkdfSha256(
        hex(r['IKM']!),
        hex(r['salt']!),
        hex(r['info']!),
        Number(r['L']),
      )
      expect(okm.toString('hex')).to.equal(r['OKM'])
      const salt = hex(r['salt']!)
      const prk = createHmac('sha256', salt.length > 0 ? salt : Buffer.alloc(32))
        .update(hex(r['IKM']!))
        .digest()
      expect(prk.toString('hex')).to.equal(r['PRK'])
    })
  }
})

describe('crypto/hkdf: Wycheproof hkdf_sha256_test.json', () => {
  type Case = { ikm: string; salt: string; info: string; size: number; okm: string }
  const file = readVectorJson<WycheproofFile<object, Case>>(
    'wycheproof/hkdf_sha256_test.json',
  )
  const cases = file.testGroups.flatMap((g) => g.tests)

  it('has 86 cases: 83 valid, 3 invalid', () => {
    expect(cases).to.have.length(86)
    expect(cases.filter((t) => t.result === 'valid')).to.have.length(83)
  })

  it('valid cases give the OKM', () => {
    for (const t of cases.filter((c) => c.result === 'valid')) {
      expect(
        hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size).toString('hex'),
        `tcId ${t.tcId}`,
      ).to.equal(t.okm)
    }
  })

  it('invalid cases (output longer than 255·32) throw RangeError naming "length"', async () => {
    for (const t of cases.filter((c) => c.result === 'invalid')) {
      expect(t.size).to.be.greaterThan(HKDF_SHA256_MAX_OUTPUT_BYTES)
      await expectError(
        () => hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size),
        RangeError,
        '"length"',
      )
    }
  })
})

describe('crypto/field-keys', () => {
  const pdk = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f')

  it('enc and mac are HKDF-SHA256(pdk, empty salt, distinct labels), 32 bytes each', () => {
    const { enc, mac } = deriveFieldKeys(pdk)
    const expected = (info: string) =>
      Buffer.from(hkdfSync('sha256', pdk, Buffer.alloc(0), info, 32))
    expect(enc.equals(expected(FIELD_ENC_INFO))).to.equal(true)
    expect(mac.equals(expected(FIELD_MAC_INFO))).to.equal(true)
    expect(FIELD_ENC_INFO).to.equal('emr-vault/v1/field-enc')
    expect(FIELD_MAC_INFO).to.equal('emr-vault/v1/field-mac')
    expect(enc.equals(mac)).to.equal(false)
  })

  it('is deterministic and differs per patient key', () => {
    expect(
      deriveFieldKeys(pdk).enc.equals(deriveFieldKeys(Buffer.from(pdk)).enc),
    ).to.equal(true)
    const other = Buffer.from(pdk)
    other[0] = 0xff
    expect(deriveFieldKeys(other).enc.equals(deriveFieldKeys(pdk).enc)).to.equal(false)
  })

  it('hmacPads(mac) = (mac ‖ 0^32) ⊕ 0x36… and ⊕ 0x5c… (RFC 2104 §2)', () => {
    const { mac } = deriveFieldKeys(pdk)
    const { inner, outer } = hmacPads(mac)
    expect(inner).to.have.length(64)
    expect(outer).to.have.length(64)
    for (let i = 0; i < 64; i++) {
      const k = i < 32 ? mac[i]! : 0
      expect(inner[i]).to.equal(k ^ 0x36)
      expect(outer[i]).to.equal(k ^ 0x5c)
    }
    expect(hmacPadsForKey(mac).inner.equals(inner)).to.equal(true)
  })
})
