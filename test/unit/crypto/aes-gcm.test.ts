// AES-256-GCM (src/crypto/aes-gcm.ts), the AEAD of the private-key wrap.
//
// Vectors: test/vectors/wycheproof/aes_gcm_test.json (C2SP/wycheproof
// testvectors_v1, 316 cases). Our code accepts exactly 256-bit keys, 96-bit IVs and
// 128-bit tags: the 66 cases of that group (39 valid, 27 invalid) run through
// aes256GcmSeal / aes256GcmOpen. Every case also runs through node's createCipheriv
// directly, to record what node does with the other sizes.
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { expect } from 'chai'
import { aes256GcmOpen, aes256GcmSeal } from '../../../src/crypto/aes-gcm.js'
import { OpenFailedError } from '../../../src/crypto/open-failed-error.js'
import { caught, hex, readVectorJson, type WycheproofFile } from './helpers.js'

type Group = { keySize: number; ivSize: number; tagSize: number }
type Case = { key: string; iv: string; aad: string; msg: string; ct: string; tag: string }
const FILE = readVectorJson<WycheproofFile<Group, Case>>('wycheproof/aes_gcm_test.json')
const OURS = FILE.testGroups
  .filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128)
  .flatMap((g) => g.tests)

describe('crypto/aes-gcm: Wycheproof aes_gcm_test.json', () => {
  it('has 316 cases, 66 of them in our parameter set (256-bit key, 96-bit IV, 128-bit tag)', () => {
    expect(FILE.testGroups.flatMap((g) => g.tests)).to.have.length(316)
    expect(OURS).to.have.length(66)
    expect(OURS.filter((t) => t.result === 'valid')).to.have.length(39)
    expect(OURS.filter((t) => t.result === 'invalid')).to.have.length(27)
  })

  it('valid cases: seal reproduces ct ‖ tag and open returns msg', () => {
    for (const t of OURS.filter((c) => c.result === 'valid')) {
      const sealed = aes256GcmSeal(hex(t.key), hex(t.iv), hex(t.msg), hex(t.aad))
      expect(sealed.toString('hex'), `tcId ${t.tcId}`).to.equal(t.ct + t.tag)
      expect(
        aes256GcmOpen(hex(t.key), hex(t.iv), hex(t.ct + t.tag), hex(t.aad)).toString(
          'hex',
        ),
      ).to.equal(t.msg)
    }
  })

  it('invalid cases: open throws OpenFailedError', async () => {
    for (const t of OURS.filter((c) => c.result === 'invalid')) {
      const err = await caught(() =>
        aes256GcmOpen(hex(t.key), hex(t.iv), hex(t.ct + t.tag), hex(t.aad)),
      )
      expect(err, `tcId ${t.tcId} ${t.comment}`).to.be.instanceOf(OpenFailedError)
    }
  })

  it('node createDecipheriv on all 316 cases: all agree except the valid 2056-bit IVs (tcId 268, 272, 276), unsupported by node', () => {
    const unsupported: number[] = []
    let agreed = 0
    for (const g of FILE.testGroups) {
      for (const t of g.tests) {
        const alg = `aes-${g.keySize}-gcm` as 'aes-256-gcm'
        let ok: boolean
        try {
          const d = createDecipheriv(alg, hex(t.key), hex(t.iv), { authTagLength: 16 })
          d.setAAD(hex(t.aad))
          d.setAuthTag(hex(t.tag))
          ok = Buffer.concat([d.update(hex(t.ct)), d.final()]).toString('hex') === t.msg
        } catch (err) {
          // A valid case node cannot run is "unsupported"; an invalid case it refuses
          // (the zero-length IVs, tcId 311-316) is a correct rejection.
          if (
            (err as { code?: string }).code === 'ERR_CRYPTO_INVALID_IV' &&
            t.result === 'valid'
          ) {
            unsupported.push(t.tcId)
            continue
          }
          ok = false
        }
        expect(ok, `tcId ${t.tcId}`).to.equal(t.result === 'valid')
        agreed++
      }
    }
    expect(unsupported).to.deep.equal([268, 272, 276])
    expect(agreed).to.equal(313)
  })

  it('node refuses a zero-length GCM IV outright (Wycheproof marks those cases invalid)', () => {
    const err = (() => {
      try {
        createCipheriv('aes-256-gcm', Buffer.alloc(32), Buffer.alloc(0))
        return undefined
      } catch (e) {
        return e as { code?: string }
      }
    })()
    expect(err?.code).to.equal('ERR_CRYPTO_INVALID_IV')
  })

  it('open refuses a truncated tag even when its prefix is right', async () => {
    const key = Buffer.alloc(32, 1)
    const nonce = Buffer.alloc(12, 2)
    const sealed = aes256GcmSeal(key, nonce, Buffer.from('secret'), Buffer.alloc(0))
    for (let cut = 1; cut <= sealed.length; cut++) {
      const err = await caught(() =>
        aes256GcmOpen(
          key,
          nonce,
          sealed.subarray(0, sealed.length - cut),
          Buffer.alloc(0),
        ),
      )
      expect(err, `cut ${cut}`).to.be.instanceOf(OpenFailedError)
    }
  })
})
