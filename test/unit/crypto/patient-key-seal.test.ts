// HPKE grants (src/crypto/hpke-base.ts, src/crypto/patient-key-seal.ts).
//
// Vectors: test/vectors/hpke/rfc9180-x25519-hkdfsha256-subset.json, derived from
// the official RFC 9180 test vectors (cfrg/draft-irtf-cfrg-hpke test-vectors.json,
// commit 5f503c5). Our suite is the entry mode 0 (base), kem_id 0x20
// (DHKEM(X25519, HKDF-SHA256)), kdf_id 1 (HKDF-SHA256), aead_id 2 (AES-256-GCM):
// 1 entry with 257 encryptions and 3 exports.
// Low-order points: test/vectors/wycheproof/x25519_test.json (C2SP/wycheproof),
// every public value whose shared secret is all zero (flag ZeroSharedSecret).
import { createCipheriv, createHmac, createPublicKey, diffieHellman } from 'node:crypto'
import { expect } from 'chai'
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core'
import { hpkeOpenBase, hpkeSealBase } from '../../../src/crypto/hpke-base.js'
import { generateUserKeyPair, x25519PublicKeyOf } from '../../../src/crypto/keypair.js'
import { OpenFailedError } from '../../../src/crypto/open-failed-error.js'
import { generatePatientKey } from '../../../src/crypto/patient-key.js'
import {
  SEALED_PATIENT_KEY_BYTES,
  openPatientKey,
  sealContextAad,
  sealPatientKey,
  type SealContext,
} from '../../../src/crypto/patient-key-seal.js'
import {
  rawX25519PublicKey,
  x25519PrivateKeyObject,
} from '../../../src/crypto/x25519-key-object.js'
import {
  caught,
  expectError,
  hex,
  readVectorJson,
  type WycheproofFile,
} from './helpers.js'

type HpkeVector = {
  mode: number
  kem_id: number
  kdf_id: number
  aead_id: number
  info: string
  ikmE: string
  skRm: string
  skEm: string
  pkRm: string
  pkEm: string
  enc: string
  shared_secret: string
  key_schedule_context: string
  secret: string
  key: string
  base_nonce: string
  exporter_secret: string
  encryptions: { aad: string; ct: string; nonce: string; pt: string }[]
  exports: { exporter_context: string; L: number; exported_value: string }[]
}

const SUBSET = 'hpke/rfc9180-x25519-hkdfsha256-subset.json'
const ALL = readVectorJson<HpkeVector[]>(SUBSET)
const OURS = ALL.filter(
  (v) => v.mode === 0 && v.kem_id === 0x20 && v.kdf_id === 1 && v.aead_id === 2,
)

/**
 * A test-only RFC 9180 key schedule on node:crypto primitives, to check the vector's
 * intermediate values (which @hpke/core does not expose) and cross-check the library.
 */
const ref = (() => {
  const ascii = (s: string) => Buffer.from(s, 'ascii')
  // I2OSP for n < 2^48 (writeUIntBE takes at most 6 bytes; the rest stay zero).
  const i2osp = (n: number, w: number) => {
    const b = Buffer.alloc(w)
    b.writeUIntBE(n, w - Math.min(w, 6), Math.min(w, 6))
    return b
  }
  const extract = (salt: Buffer, ikm: Buffer) =>
    createHmac('sha256', salt.length ? salt : Buffer.alloc(32))
      .update(ikm)
      .digest()
  // RFC 5869 §2.3 Expand alone (hkdfSync always runs Extract first).
  const expandOnly = (prk: Buffer, info: Buffer, L: number) => {
    const out: Buffer[] = []
    let t = Buffer.alloc(0)
    for (let i = 1; Buffer.concat(out).length < L; i++) {
      t = createHmac('sha256', prk)
        .update(Buffer.concat([t, info, Buffer.of(i)]))
        .digest()
      out.push(t)
    }
    return Buffer.concat(out).subarray(0, L)
  }
  const labeledExtract = (suite: Buffer, salt: Buffer, label: string, ikm: Buffer) =>
    extract(salt, Buffer.concat([ascii('HPKE-v1'), suite, ascii(label), ikm]))
  const labeledExpand = (
    suite: Buffer,
    prk: Buffer,
    label: string,
    info: Buffer,
    L: number,
  ) =>
    expandOnly(
      prk,
      Buffer.concat([i2osp(L, 2), ascii('HPKE-v1'), suite, ascii(label), info]),
      L,
    )
  const KEM_SUITE = Buffer.concat([ascii('KEM'), i2osp(0x20, 2)])
  const HPKE_SUITE = Buffer.concat([
    ascii('HPKE'),
    i2osp(0x20, 2),
    i2osp(1, 2),
    i2osp(2, 2),
  ])
  const empty = Buffer.alloc(0)
  return {
    /** RFC 9180 §4.1 Decap with node's X25519. */
    decap(enc: Buffer, skR: Buffer) {
      const sk = x25519PrivateKeyObject(skR)
      const dh = diffieHellman({
        privateKey: sk,
        publicKey: createPublicKey({
          key: Buffer.concat([hex('302a300506032b656e032100'), enc]),
          format: 'der',
          type: 'spki',
        }),
      })
      const pkRm = rawX25519PublicKey(createPublicKey(sk))
      const eaePrk = labeledExtract(KEM_SUITE, empty, 'eae_prk', dh)
      return labeledExpand(
        KEM_SUITE,
        eaePrk,
        'shared_secret',
        Buffer.concat([enc, pkRm]),
        32,
      )
    },
    /** RFC 9180 §5.1 KeySchedule, base mode (psk and psk_id empty). */
    keySchedule(sharedSecret: Buffer, info: Buffer) {
      const pskIdHash = labeledExtract(HPKE_SUITE, empty, 'psk_id_hash', empty)
      const infoHash = labeledExtract(HPKE_SUITE, empty, 'info_hash', info)
      const context = Buffer.concat([Buffer.of(0), pskIdHash, infoHash])
      const secret = labeledExtract(HPKE_SUITE, sharedSecret, 'secret', empty)
      return {
        context,
        secret,
        key: labeledExpand(HPKE_SUITE, secret, 'key', context, 32),
        baseNonce: labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12),
        exporterSecret: labeledExpand(HPKE_SUITE, secret, 'exp', context, 32),
      }
    },
    /** RFC 9180 §5.2 ComputeNonce. */
    nonce(baseNonce: Buffer, seq: number) {
      const n = Buffer.from(baseNonce)
      const s = i2osp(seq, 12)
      for (let i = 0; i < 12; i++) n[i]! ^= s[i]!
      return n
    },
    seal(key: Buffer, nonce: Buffer, aad: Buffer, pt: Buffer) {
      const c = createCipheriv('aes-256-gcm', key, nonce)
      c.setAAD(aad)
      return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()])
    },
  }
})()

describe('crypto/hpke: RFC 9180 vectors (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, base mode)', () => {
  it('the subset file holds exactly one entry for our suite, with 257 encryptions', () => {
    expect(ALL).to.have.length(12)
    expect(OURS).to.have.length(1)
    expect(OURS[0]!.encryptions).to.have.length(257)
  })

  for (const v of OURS) {
    it('hpkeSealBase with the vector ikmE reproduces enc and encryptions[0].ct', async () => {
      const e = v.encryptions[0]!
      const { enc, ciphertext } = await hpkeSealBase(
        hex(v.pkRm),
        hex(v.info),
        hex(e.aad),
        hex(e.pt),
        hex(v.ikmE),
      )
      expect(enc.toString('hex')).to.equal(v.enc)
      expect(enc.toString('hex')).to.equal(v.pkEm)
      expect(ciphertext.toString('hex')).to.equal(e.ct)
    })

    it('hpkeOpenBase with skRm opens encryptions[0].ct', async () => {
      const e = v.encryptions[0]!
      const pt = await hpkeOpenBase(
        hex(v.skRm),
        hex(v.enc),
        hex(v.info),
        hex(e.aad),
        hex(e.ct),
      )
      expect(pt.toString('hex')).to.equal(e.pt)
    })

    it('x25519PublicKeyOf(skRm) = pkRm and x25519PublicKeyOf(skEm) = pkEm', () => {
      expect(x25519PublicKeyOf(hex(v.skRm)).toString('hex')).to.equal(v.pkRm)
      expect(x25519PublicKeyOf(hex(v.skEm)).toString('hex')).to.equal(v.pkEm)
    })

    it('node:crypto reference: shared_secret, key schedule context, secret, key, base_nonce, exporter_secret', () => {
      const ss = ref.decap(hex(v.enc), hex(v.skRm))
      expect(ss.toString('hex')).to.equal(v.shared_secret)
      const ks = ref.keySchedule(ss, hex(v.info))
      expect(ks.context.toString('hex')).to.equal(v.key_schedule_context)
      expect(ks.secret.toString('hex')).to.equal(v.secret)
      expect(ks.key.toString('hex')).to.equal(v.key)
      expect(ks.baseNonce.toString('hex')).to.equal(v.base_nonce)
      expect(ks.exporterSecret.toString('hex')).to.equal(v.exporter_secret)
    })

    it('node:crypto reference reproduces all 257 encryptions (nonce and ct)', () => {
      const ks = ref.keySchedule(hex(v.shared_secret), hex(v.info))
      v.encryptions.forEach((e, seq) => {
        const nonce = ref.nonce(ks.baseNonce, seq)
        expect(nonce.toString('hex'), `seq ${seq}`).to.equal(e.nonce)
        expect(ref.seal(ks.key, nonce, hex(e.aad), hex(e.pt)).toString('hex')).to.equal(
          e.ct,
        )
      })
    })

    it('@hpke/core contexts (sender with ekm = ikmE, recipient with skRm) reproduce and open all 257 encryptions and the 3 exports', async () => {
      const suite = new CipherSuite({
        kem: new DhkemX25519HkdfSha256(),
        kdf: new HkdfSha256(),
        aead: new Aes256Gcm(),
      })
      const pkR = await suite.kem.deserializePublicKey(hex(v.pkRm))
      const sender = await suite.createSenderContext({
        recipientPublicKey: pkR,
        info: hex(v.info),
        ekm: hex(v.ikmE),
      })
      expect(Buffer.from(sender.enc).toString('hex')).to.equal(v.enc)
      const recipient = await suite.createRecipientContext({
        recipientKey: await suite.kem.deserializePrivateKey(hex(v.skRm)),
        enc: hex(v.enc),
        info: hex(v.info),
      })
      for (const [seq, e] of v.encryptions.entries()) {
        const ct = Buffer.from(await sender.seal(hex(e.pt), hex(e.aad)))
        expect(ct.toString('hex'), `seal seq ${seq}`).to.equal(e.ct)
        const pt = Buffer.from(await recipient.open(hex(e.ct), hex(e.aad)))
        expect(pt.toString('hex'), `open seq ${seq}`).to.equal(e.pt)
      }
      expect(v.exports).to.have.length(3)
      for (const x of v.exports) {
        const s = Buffer.from(await sender.export(hex(x.exporter_context), x.L))
        const r = Buffer.from(await recipient.export(hex(x.exporter_context), x.L))
        expect(s.toString('hex')).to.equal(x.exported_value)
        expect(r.toString('hex')).to.equal(x.exported_value)
      }
    })
  }
})

describe('crypto/patient-key-seal', () => {
  const ctx: SealContext = {
    patientId: 'patient-0193',
    keyVersion: 7,
    recipientId: 'user-42',
  }
  const recipient = generateUserKeyPair()
  const patientKey = generatePatientKey()
  let sealed: Buffer

  before(async () => {
    sealed = await sealPatientKey(patientKey, recipient.publicKey, ctx)
  })

  it('round-trips; the sealed form is 0x01 ‖ enc (32) ‖ ct (32) ‖ tag (16) = 81 bytes', async () => {
    expect(sealed).to.have.length(SEALED_PATIENT_KEY_BYTES).and.to.have.length(81)
    expect(sealed[0]).to.equal(0x01)
    expect(
      (await openPatientKey(sealed, recipient.privateKey, ctx)).equals(patientKey),
    ).to.equal(true)
  })

  it('two seals of the same key differ (fresh ephemeral key each time)', async () => {
    const again = await sealPatientKey(patientKey, recipient.publicKey, ctx)
    expect(again.equals(sealed)).to.equal(false)
    expect(again.subarray(1, 33).equals(sealed.subarray(1, 33))).to.equal(false)
  })

  it('the recovery-key path: a second recipient opens its own seal, not the first one', async () => {
    const recovery = generateUserKeyPair()
    const ctx2 = { ...ctx, recipientId: 'recovery' }
    const s2 = await sealPatientKey(patientKey, recovery.publicKey, ctx2)
    expect(
      (await openPatientKey(s2, recovery.privateKey, ctx2)).equals(patientKey),
    ).to.equal(true)
    await expectError(
      () => openPatientKey(sealed, recovery.privateKey, ctx),
      OpenFailedError,
    )
  })

  it('a wrong recipient private key → OpenFailedError', async () => {
    await expectError(
      () => openPatientKey(sealed, generateUserKeyPair().privateKey, ctx),
      OpenFailedError,
    )
  })

  const changed: [string, SealContext][] = [
    ['patientId', { ...ctx, patientId: 'patient-0194' }],
    ['keyVersion', { ...ctx, keyVersion: 8 }],
    ['recipientId', { ...ctx, recipientId: 'user-43' }],
    [
      'patientId/recipientId swapped',
      { ...ctx, patientId: ctx.recipientId, recipientId: ctx.patientId },
    ],
  ]
  for (const [what, other] of changed) {
    it(`a changed ${what} → OpenFailedError`, async () => {
      await expectError(
        () => openPatientKey(sealed, recipient.privateKey, other),
        OpenFailedError,
      )
    })
  }

  it('the AAD is length-prefixed: ids that concatenate alike encode differently', () => {
    const a = sealContextAad({ patientId: 'ab', keyVersion: 1, recipientId: 'c' })
    const b = sealContextAad({ patientId: 'a', keyVersion: 1, recipientId: 'bc' })
    expect(a.equals(b)).to.equal(false)
    expect(sealContextAad(ctx).toString('hex')).to.equal(
      Buffer.concat([
        Buffer.from('emr-vault/patient-key-grant', 'ascii'),
        hex('01'),
        hex('000c'),
        Buffer.from('patient-0193'),
        hex('00000007'),
        hex('0007'),
        Buffer.from('user-42'),
      ]).toString('hex'),
    )
  })

  it('every single-bit flip (version, enc, ciphertext, tag) → OpenFailedError', async function () {
    this.timeout(60_000)
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(sealed)
        bad[i]! ^= bit
        const err = await caught(() => openPatientKey(bad, recipient.privateKey, ctx))
        expect(err, `byte ${i} bit ${bit}`).to.be.instanceOf(OpenFailedError)
      }
    }
  })

  it('every truncation and an extension → OpenFailedError', async () => {
    for (let n = 0; n < sealed.length; n++) {
      await expectError(
        () => openPatientKey(sealed.subarray(0, n), recipient.privateKey, ctx),
        OpenFailedError,
      )
    }
    await expectError(
      () =>
        openPatientKey(Buffer.concat([sealed, Buffer.of(0)]), recipient.privateKey, ctx),
      OpenFailedError,
    )
  })

  it('every Wycheproof low-order X25519 point used as enc → OpenFailedError', async () => {
    type X = { public: string; shared: string }
    const file = readVectorJson<WycheproofFile<object, X>>('wycheproof/x25519_test.json')
    const zero = '00'.repeat(32)
    const lowOrder = new Set(
      file.testGroups.flatMap((g) =>
        g.tests.filter((t) => t.shared === zero).map((t) => t.public),
      ),
    )
    expect(lowOrder.size).to.be.greaterThan(10)
    for (const point of lowOrder) {
      const bad = Buffer.concat([sealed.subarray(0, 1), hex(point), sealed.subarray(33)])
      const err = await caught(() => openPatientKey(bad, recipient.privateKey, ctx))
      expect(err, point).to.be.instanceOf(OpenFailedError)
    }
  })

  it('OpenFailedError carries a fixed message, code OPEN_FAILED and no cause', async () => {
    const err = (await caught(() =>
      openPatientKey(sealed, recipient.privateKey, { ...ctx, keyVersion: 1 }),
    )) as OpenFailedError
    expect(err.code).to.equal('OPEN_FAILED')
    expect(err.name).to.equal('OpenFailedError')
    expect(err.message).to.equal(new OpenFailedError().message)
    expect(err.cause).to.equal(undefined)
  })
})
