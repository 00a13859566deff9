// AES-256-CBC with PKCS#7 padding (src/crypto/aes-cbc.ts), the cipher layer of the
// envelope (and of MySQL's AES_ENCRYPT in aes-256-cbc mode).
//
// Vectors:
// - test/vectors/wycheproof/aes_cbc_pkcs5_test.json (C2SP/wycheproof
//   testvectors_v1, 216 cases); our layer takes 256-bit keys only, so its 72 cases of
//   keySize 256 (24 valid, 48 invalid: BadPadding / NoPadding) run through it.
// - test/vectors/nist-cavp/aes-cbc/CBC{GFSbox,KeySbox,MMT,VarKey,VarTxt}256.rsp
//   (NIST CAVP AESAVS, via pycryptodome): unpadded CBC, so our padded output must be
//   the NIST ciphertext followed by one more block, and must decrypt back.
import { expect } from 'chai'
import { aes256CbcDecrypt, aes256CbcEncrypt } from '../../../src/crypto/aes-cbc.js'
import { OpenFailedError } from '../../../src/crypto/open-failed-error.js'
import {
  caught,
  hex,
  parseRsp,
  readVectorJson,
  readVectorText,
  type WycheproofFile,
} from './helpers.js'

describe('crypto/aes-cbc: Wycheproof aes_cbc_pkcs5_test.json (256-bit keys)', () => {
  type Group = { keySize: number; ivSize: number }
  type Case = { key: string; iv: string; msg: string; ct: string }
  const file = readVectorJson<WycheproofFile<Group, Case>>(
    'wycheproof/aes_cbc_pkcs5_test.json',
  )
  const ours = file.testGroups.filter((g) => g.keySize === 256).flatMap((g) => g.tests)

  it('has 216 cases, 72 with 256-bit keys (24 valid, 48 invalid)', () => {
    expect(file.testGroups.flatMap((g) => g.tests)).to.have.length(216)
    expect(ours).to.have.length(72)
    expect(ours.filter((t) => t.result === 'valid')).to.have.length(24)
  })

  it('valid: encrypt reproduces ct, decrypt returns msg', () => {
    for (const t of ours.filter((c) => c.result === 'valid')) {
      expect(
        aes256CbcEncrypt(hex(t.key), hex(t.iv), hex(t.msg)).toString('hex'),
        `tcId ${t.tcId}`,
      ).to.equal(t.ct)
      expect(
        aes256CbcDecrypt(hex(t.key), hex(t.iv), hex(t.ct)).toString('hex'),
        `tcId ${t.tcId}`,
      ).to.equal(t.msg)
    }
  })

  it('invalid (bad or missing padding): decrypt throws OpenFailedError', async () => {
    for (const t of ours.filter((c) => c.result === 'invalid')) {
      const err = await caught(() => aes256CbcDecrypt(hex(t.key), hex(t.iv), hex(t.ct)))
      expect(err, `tcId ${t.tcId} ${t.comment}`).to.be.instanceOf(OpenFailedError)
    }
  })
})

describe('crypto/aes-cbc: NIST CAVP AESAVS CBC, 256-bit keys', () => {
  const files = [
    'CBCGFSbox256.rsp',
    'CBCKeySbox256.rsp',
    'CBCMMT256.rsp',
    'CBCVarKey256.rsp',
    'CBCVarTxt256.rsp',
  ]
  let total = 0

  for (const name of files) {
    it(`${name}: ours = NIST ciphertext ‖ one padding block, and decrypts back`, () => {
      const records = parseRsp(readVectorText(`nist-cavp/aes-cbc/${name}`))
      expect(records.length).to.be.greaterThan(0)
      for (const r of records) {
        const [key, iv, pt, ct] = [
          hex(r['KEY']!),
          hex(r['IV']!),
          hex(r['PLAINTEXT']!),
          hex(r['CIPHERTEXT']!),
        ]
        const ours = aes256CbcEncrypt(key, iv, pt)
        expect(ours).to.have.length(pt.length + 16)
        expect(
          ours.subarray(0, ct.length).equals(ct),
          `${name} COUNT ${r['COUNT']}`,
        ).to.equal(true)
        expect(aes256CbcDecrypt(key, iv, ours).equals(pt)).to.equal(true)
      }
      total += records.length
    })
  }

  it('covered 830 records (ENCRYPT and DECRYPT sections of the five files)', () => {
    expect(total).to.equal(830)
  })
})

describe('crypto/aes-cbc: lengths', () => {
  it('decrypt refuses empty and non-block-multiple ciphertext with OpenFailedError', async () => {
    const key = Buffer.alloc(32)
    const iv = Buffer.alloc(16)
    for (const n of [0, 1, 15, 17, 31]) {
      expect(
        await caught(() => aes256CbcDecrypt(key, iv, Buffer.alloc(n))),
      ).to.be.instanceOf(OpenFailedError)
    }
  })

  it('padding always adds 1 to 16 bytes', () => {
    for (let n = 0; n <= 48; n++) {
      const ct = aes256CbcEncrypt(Buffer.alloc(32), Buffer.alloc(16), Buffer.alloc(n))
      expect(ct.length).to.equal((Math.floor(n / 16) + 1) * 16)
    }
  })
})
