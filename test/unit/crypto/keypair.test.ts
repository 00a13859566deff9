// X25519 key pairs (src/crypto/keypair.ts, src/crypto/x25519-key-object.ts) and the two
// X25519 implementations we rely on: node:crypto `diffieHellman` (OpenSSL) and the
// WebCrypto `deriveBits` that @hpke/core calls, with keys imported by @hpke/core's own
// `deserializePrivateKey` / `deserializePublicKey`.
//
// Vectors: test/vectors/wycheproof/x25519_test.json (C2SP/wycheproof
// testvectors_v1, 518 cases incl. RFC 7748 §5.2/§6.1, low-order, twist and
// non-canonical points) and RFC 7748 §6.1's Alice/Bob keys written out below.
import { createPublicKey, diffieHellman, webcrypto } from 'node:crypto'
import { expect } from 'chai'
import { DhkemX25519HkdfSha256 } from '@hpke/core'
import {
  generateUserKeyPair,
  isUsableX25519PublicKey,
  x25519PublicKeyOf,
} from '../../../src/crypto/keypair.js'
import {
  rawX25519PrivateKey,
  rawX25519PublicKey,
  x25519PrivateKeyObject,
  x25519PublicKeyObject,
} from '../../../src/crypto/x25519-key-object.js'
import { caught, hex, readVectorJson, type WycheproofFile } from './helpers.js'

type XdhCase = { public: string; private: string; shared: string }
const FILE = readVectorJson<WycheproofFile<{ curve: string }, XdhCase>>(
  'wycheproof/x25519_test.json',
)
const CASES = FILE.testGroups.flatMap((g) => g.tests)
const ZERO = '00'.repeat(32)

describe('crypto/keypair', () => {
  it('generateUserKeyPair returns two fresh 32-byte Buffers whose public key matches', () => {
    const a = generateUserKeyPair()
    const b = generateUserKeyPair()
    for (const k of [a.publicKey, a.privateKey])
      expect(Buffer.isBuffer(k) && k.length === 32).to.equal(true)
    expect(a.privateKey.equals(b.privateKey)).to.equal(false)
    expect(x25519PublicKeyOf(a.privateKey).equals(a.publicKey)).to.equal(true)
  })

  it('RFC 7748 §6.1: Alice and Bob public keys and shared secret', () => {
    const aliceSk = hex(
      '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    )
    const bobSk = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')
    const alicePk = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'
    const bobPk = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'
    expect(x25519PublicKeyOf(aliceSk).toString('hex')).to.equal(alicePk)
    expect(x25519PublicKeyOf(bobSk).toString('hex')).to.equal(bobPk)
    const k = diffieHellman({
      privateKey: x25519PrivateKeyObject(aliceSk),
      publicKey: x25519PublicKeyObject(hex(bobPk)),
    })
    expect(k.toString('hex')).to.equal(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    )
  })

  it('raw ↔ KeyObject conversions round-trip (DER prefixes of RFC 8410)', () => {
    const { publicKey, privateKey } = generateUserKeyPair()
    expect(
      rawX25519PrivateKey(x25519PrivateKeyObject(privateKey)).equals(privateKey),
    ).to.equal(true)
    expect(
      rawX25519PublicKey(x25519PublicKeyObject(publicKey)).equals(publicKey),
    ).to.equal(true)
    expect(
      rawX25519PublicKey(createPublicKey(x25519PrivateKeyObject(privateKey))).equals(
        publicKey,
      ),
    ).to.equal(true)
  })

  it('raw export refuses a key of another type', async () => {
    const { privateKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('ed25519'),
    )
    expect(await caught(() => rawX25519PrivateKey(privateKey))).to.be.instanceOf(
      TypeError,
    )
  })
})

describe('crypto/x25519: Wycheproof x25519_test.json', () => {
  it(`holds ${FILE.numberOfTests} cases (264 valid, 254 acceptable), 31 with an all-zero shared secret`, () => {
    expect(CASES).to.have.length(518)
    expect(CASES.filter((t) => t.result === 'valid')).to.have.length(264)
    expect(CASES.filter((t) => t.shared === ZERO)).to.have.length(31)
  })

  it('node diffieHellman: every non-zero case matches; every all-zero case throws', async () => {
    let matched = 0
    let threw = 0
    for (const t of CASES) {
      const run = () =>
        diffieHellman({
          privateKey: x25519PrivateKeyObject(hex(t.private)),
          publicKey: x25519PublicKeyObject(hex(t.public)),
        })
      if (t.shared === ZERO) {
        // OpenSSL refuses an all-zero X25519 output (RFC 7748 §6.1 allows the check):
        // node throws ERR_OSSL_FAILED_DURING_DERIVATION.
        const err = (await caught(run)) as Error & { code?: string }
        expect(err, `tcId ${t.tcId}`).to.be.instanceOf(Error)
        expect(err.code).to.equal('ERR_OSSL_FAILED_DURING_DERIVATION')
        threw++
      } else {
        expect(run().toString('hex'), `tcId ${t.tcId} ${t.comment}`).to.equal(t.shared)
        matched++
      }
    }
    expect([matched, threw]).to.deep.equal([487, 31])
  })

  it('isUsableX25519PublicKey: false exactly for the public keys whose shared secret is all zero', async () => {
    // The all-zero result does not depend on the private key (clamping clears the
    // cofactor), so the throwaway key of each call decides the same as the vector's.
    const lowOrder = new Set(CASES.filter((t) => t.shared === ZERO).map((t) => t.public))
    expect(lowOrder.size).to.equal(14)
    for (const t of CASES) {
      expect(isUsableX25519PublicKey(hex(t.public)), `tcId ${t.tcId}`).to.equal(
        !lowOrder.has(t.public),
      )
    }
    expect(isUsableX25519PublicKey(generateUserKeyPair().publicKey)).to.equal(true)
    expect(
      await caught(() => isUsableX25519PublicKey(Buffer.alloc(31))),
    ).to.be.instanceOf(RangeError)
  })

  it('WebCrypto deriveBits on keys imported by @hpke/core: same results, all-zero cases reject', async () => {
    const kem = new DhkemX25519HkdfSha256()
    let matched = 0
    let rejected = 0
    for (const t of CASES) {
      const sk = await kem.deserializePrivateKey(hex(t.private))
      const pk = await kem.deserializePublicKey(hex(t.public))
      const run = () =>
        webcrypto.subtle.deriveBits({ name: 'X25519', public: pk }, sk, 256)
      if (t.shared === ZERO) {
        // Node's WebCrypto rejects with a DOMException named OperationError; @hpke/core
        // turns it into a DecapError, and openPatientKey into OpenFailedError.
        const err = (await caught(run)) as Error
        expect(err, `tcId ${t.tcId}`).to.be.instanceOf(Error)
        expect(err.name).to.equal('OperationError')
        rejected++
      } else {
        expect(Buffer.from(await run()).toString('hex'), `tcId ${t.tcId}`).to.equal(
          t.shared,
        )
        matched++
      }
    }
    expect([matched, rejected]).to.deep.equal([487, 31])
  })
})
