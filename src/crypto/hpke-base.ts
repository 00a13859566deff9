/**
 * HPKE (RFC 9180) base mode, single-shot, for our one suite:
 * DHKEM(X25519, HKDF-SHA256) (KEM 0x0020), HKDF-SHA256 (KDF 0x0001), AES-256-GCM
 * (AEAD 0x0002). RFC 9180 itself is implemented by `@hpke/core` (dajiaji/hpke-js,
 * pinned in package.json), on WebCrypto (Node 20's `globalThis.crypto.subtle`).
 *
 * This module only adapts Buffers and raw keys to the library; `patient-key-seal.ts`
 * gives it meaning. It is split out so the RFC 9180 vectors run through the exact
 * calls we ship.
 * @module
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core'
import { abytes } from './bytes.js'
import { x25519PublicKeyOf } from './keypair.js'
import { X25519_KEY_BYTES } from './x25519-key-object.js'

/** Length of `enc`, the serialized ephemeral public key (Nenc, RFC 9180 §7.1). */
export const HPKE_ENC_BYTES = 32
/** Length of the AEAD tag appended to the ciphertext (Nt, RFC 9180 §7.3). */
export const HPKE_TAG_BYTES = 16

const SUITE = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
})

/** The output of {@link hpkeSealBase}. */
export type HpkeSealed = { enc: Buffer; ciphertext: Buffer }

/**
 * `SealBase(pkR, info, aad, pt)` (RFC 9180 §6.1).
 *
 * @param recipientPublicKey - raw 32-byte X25519 public key
 * @param info - application info bound into the key schedule
 * @param aad - associated data for the AEAD
 * @param plaintext - the message
 * @param ikmE - TESTS ONLY: input keying material for the ephemeral key
 *   (`DeriveKeyPair(ikmE)`, RFC 9180 §7.1.3), to reproduce the RFC's vectors. Passing it
 *   in production would make the ephemeral key, and so every key derived from it,
 *   predictable to anyone who knows `ikmE`.
 * @returns `enc` (32 bytes) and `ciphertext ‖ tag`
 * @throws the library's `EncapError` / `SealError` on failure
 */
export async function hpkeSealBase(
  recipientPublicKey: Buffer,
  info: Buffer,
  aad: Buffer,
  plaintext: Buffer,
  ikmE?: Buffer,
): Promise<HpkeSealed> {
  abytes(recipientPublicKey, 'recipientPublicKey', X25519_KEY_BYTES)
  abytes(info, 'info')
  abytes(aad, 'aad')
  abytes(plaintext, 'plaintext')
  const pkR = await SUITE.kem.deserializePublicKey(recipientPublicKey)
  const { ct, enc } = await SUITE.seal(
    ikmE === undefined
      ? { recipientPublicKey: pkR, info }
      : { recipientPublicKey: pkR, info, ekm: ikmE },
    plaintext,
    aad,
  )
  return { enc: Buffer.from(enc), ciphertext: Buffer.from(ct) }
}

/**
 * `OpenBase(enc, skR, info, aad, ct)` (RFC 9180 §6.1).
 *
 * We hand the library a key *pair*, with the public key computed by node:crypto:
 * given only a private CryptoKey, `@hpke/core` derives the public key by exporting
 * the private key as JWK, which puts it in an unwipeable JS string.
 *
 * @param recipientPrivateKey - raw 32-byte X25519 private key
 * @param enc - the sender's 32-byte `enc`
 * @param info - the info used at sealing
 * @param aad - the aad used at sealing
 * @param ciphertext - `ciphertext ‖ tag`
 * @returns the plaintext
 * @throws the library's `DeserializeError` / `DecapError` / `OpenError` on any
 *   failure (callers map these to `OpenFailedError`)
 */
export async function hpkeOpenBase(
  recipientPrivateKey: Buffer,
  enc: Buffer,
  info: Buffer,
  aad: Buffer,
  ciphertext: Buffer,
): Promise<Buffer> {
  abytes(recipientPrivateKey, 'recipientPrivateKey', X25519_KEY_BYTES)
  abytes(enc, 'enc')
  abytes(info, 'info')
  abytes(aad, 'aad')
  abytes(ciphertext, 'ciphertext')
  const recipientKey = {
    privateKey: await SUITE.kem.deserializePrivateKey(recipientPrivateKey),
    publicKey: await SUITE.kem.deserializePublicKey(
      x25519PublicKeyOf(recipientPrivateKey),
    ),
  }
  const pt = await SUITE.open({ recipientKey, enc, info }, ciphertext, aad)
  return Buffer.from(pt)
}
