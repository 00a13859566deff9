// The user KEK (src/crypto/kek.ts): scrypt of the normalised password.
//
// Vectors: test/vectors/kdf-rfc/scrypt-rfc7914.txt, RFC 7914 §12 (via
// pyca/cryptography), all four with 64-byte outputs, run through scryptRaw (the call
// deriveKek makes, with the same maxmem logic). The fourth (N=2^20, r=8: 1 GiB) is slow.
import { scryptSync } from 'node:crypto'
import { expect } from 'chai'
import { KDF_POLICY, TEST_KDF_POLICY } from '../../../src/crypto/kdf-policy.js'
import {
  KDF_SALT_BYTES,
  deriveKek,
  newKdfSalt,
  scryptMaxmem,
  scryptRaw,
} from '../../../src/crypto/kek.js'
import { caught, expectError, hex, parseRsp, readVectorText } from './helpers.js'

describe('crypto/kek: RFC 7914 §12 scrypt vectors through scryptRaw', () => {
  const records = parseRsp(readVectorText('kdf-rfc/scrypt-rfc7914.txt'))

  it('has the 4 RFC vectors', () => {
    expect(records).to.have.length(4)
  })

  for (const r of records) {
    const params = { N: Number(r['N']), r: Number(r['r']), p: Number(r['p']) }
    const slow = params.N >= 2 ** 20
    it(`vector ${r['COUNT']}: N=${params.N} r=${params.r} p=${params.p}${slow ? ' (slow: 1 GiB)' : ''}`, async function () {
      if (slow) this.timeout(30_000)
      const out = await scryptRaw(
        Buffer.from(r['PASSWORD'] ?? '', 'utf8'),
        Buffer.from(r['SALT'] ?? '', 'utf8'),
        params,
        Number(r['LENGTH']),
      )
      expect(out.toString('hex')).to.equal(r['DERIVED_KEY'])
    })
  }
})

describe('crypto/kek: maxmem', () => {
  it("node's default maxmem (32 MiB) throws at policy costs; ours does not", async () => {
    const { N, r, p } = KDF_POLICY.scrypt
    const err = (await caught(() => scryptSync('pw', 'salt', 32, { N, r, p }))) as {
      code?: string
    }
    expect(err.code).to.equal('ERR_CRYPTO_INVALID_SCRYPT_PARAMS')
    expect(scryptMaxmem(KDF_POLICY.scrypt)).to.be.greaterThan(128 * N * r)
  })

  it('scryptMaxmem = 128·r·(N+p+2) + 1 MiB (the least OpenSSL accepts, plus headroom)', () => {
    expect(scryptMaxmem({ N: 2 ** 17, r: 8, p: 1 })).to.equal(
      128 * 8 * (2 ** 17 + 3) + 2 ** 20,
    )
    // Without the headroom it is exactly enough; one byte less is refused.
    const { N, r, p } = { N: 1024, r: 8, p: 16 }
    const exact = 128 * r * (N + p + 2)
    expect(() => scryptSync('pw', 'salt', 32, { N, r, p, maxmem: exact })).to.not.throw()
    expect(() => scryptSync('pw', 'salt', 32, { N, r, p, maxmem: exact - 1 })).to.throw()
  })
})

describe('crypto/kek: deriveKek', () => {
  const salt = hex('000102030405060708090a0b0c0d0e0f')
  const params = TEST_KDF_POLICY.scrypt

  it('gives 32 bytes = scrypt(NFKC UTF-8 password, salt), deterministic', async () => {
    const a = await deriveKek('pässwörd', salt, params)
    expect(a).to.have.length(32)
    expect((await deriveKek('pässwörd', salt, params)).equals(a)).to.equal(true)
    const expected = scryptSync(Buffer.from('pässwörd'.normalize('NFKC')), salt, 32, {
      ...params,
      maxmem: 2 ** 26,
    })
    expect(a.equals(expected)).to.equal(true)
  })

  it('NFKC-equivalent passwords give the same KEK', async () => {
    const a = await deriveKek('\uFB01le-cafe\u0301', salt, params)
    const b = await deriveKek('file-caf\u00e9', salt, params)
    expect(a.equals(b)).to.equal(true)
  })

  it('another salt or password gives another KEK', async () => {
    const a = await deriveKek('pw', salt, params)
    expect((await deriveKek('pw', newKdfSalt(), params)).equals(a)).to.equal(false)
    expect((await deriveKek('pW', salt, params)).equals(a)).to.equal(false)
  })

  it('newKdfSalt gives 16 fresh random bytes', () => {
    const a = newKdfSalt()
    expect(a).to.have.length(KDF_SALT_BYTES).and.to.have.length(16)
    expect(newKdfSalt().equals(a)).to.equal(false)
  })

  it('rejects the same passwords as the verifier (72 bytes, lone surrogate, empty)', async () => {
    await expectError(
      () => deriveKek('a'.repeat(73), salt, params),
      RangeError,
      'at most 72 bytes',
    )
    await expectError(
      () => deriveKek('\uD800', salt, params),
      TypeError,
      'lone surrogate',
    )
    await expectError(() => deriveKek('', salt, params), RangeError, 'empty')
  })

  it('production-cost scrypt (slow)', async function () {
    this.timeout(10_000)
    expect(KDF_POLICY.scrypt).to.deep.equal({ N: 2 ** 17, r: 8, p: 1 })
    const a = await deriveKek('correct horse battery staple', salt, KDF_POLICY.scrypt)
    expect(a).to.have.length(32)
    const b = await deriveKek('correct horse battery staple', salt, KDF_POLICY.scrypt)
    expect(a.equals(b)).to.equal(true)
  })
})
