/**
 * AES-256-GCM with a 96-bit nonce and a full 128-bit tag (NIST SP 800-38D), the one
 * AEAD call the private-key wrap uses. Kept apart so the Wycheproof vectors run
 * through the exact code we ship.
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { abytes } from './bytes.js'
import { OpenFailedError } from './open-failed-error.js'

/** AES-256 key length. */
export const GCM_KEY_BYTES = 32
/** 96-bit nonce: SP 800-38D §8.2 recommends it, and it needs no GHASH of the IV. */
export const GCM_NONCE_BYTES = 12
/** Full-length tag; shorter tags weaken forgery bounds (SP 800-38D Appendix C). */
export const GCM_TAG_BYTES = 16

/**
 * Encrypts and authenticates.
 *
 * @param key - 32-byte key
 * @param nonce - 12-byte nonce, never reused with the same key
 * @param plaintext - data to encrypt
 * @param aad - associated data, authenticated but not encrypted
 * @returns `ciphertext ‖ tag (16 bytes)`
 */
export function aes256GcmSeal(
  key: Buffer,
  nonce: Buffer,
  plaintext: Buffer,
  aad: Buffer,
): Buffer {
  abytes(key, 'key', GCM_KEY_BYTES)
  abytes(nonce, 'nonce', GCM_NONCE_BYTES)
  abytes(plaintext, 'plaintext')
  abytes(aad, 'aad')
  const cipher = createCipheriv('aes-256-gcm', key, nonce, {
    authTagLength: GCM_TAG_BYTES,
  })
  cipher.setAAD(aad)
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

/**
 * Verifies and decrypts `ciphertext ‖ tag`.
 *
 * `authTagLength` is pinned to 16: without it node accepts `setAuthTag` with a
 * truncated tag (4 to 16 bytes), which would let a forger guess a 4-byte tag.
 *
 * @param key - 32-byte key
 * @param nonce - 12-byte nonce
 * @param sealed - `ciphertext ‖ tag`
 * @param aad - associated data
 * @returns the plaintext (a new Buffer, owned by the caller)
 * @throws OpenFailedError if `sealed` is shorter than a tag or does not authenticate
 */
export function aes256GcmOpen(
  key: Buffer,
  nonce: Buffer,
  sealed: Buffer,
  aad: Buffer,
): Buffer {
  abytes(key, 'key', GCM_KEY_BYTES)
  abytes(nonce, 'nonce', GCM_NONCE_BYTES)
  abytes(sealed, 'sealed')
  abytes(aad, 'aad')
  if (sealed.length < GCM_TAG_BYTES) throw new OpenFailedError()
  const tagAt = sealed.length - GCM_TAG_BYTES
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, {
    authTagLength: GCM_TAG_BYTES,
  })
  decipher.setAAD(aad)
  decipher.setAuthTag(sealed.subarray(tagAt))
  const head = decipher.update(sealed.subarray(0, tagAt))
  try {
    // final() checks the tag; only then is the plaintext released.
    return Buffer.concat([head, decipher.final()])
  } catch {
    throw new OpenFailedError()
  } finally {
    head.fill(0)
  }
}
