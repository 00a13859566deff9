/**
 * AES-256-CBC with PKCS#7 padding, the cipher MySQL's `AES_ENCRYPT` uses under
 * `block_encryption_mode = 'aes-256-cbc'` (docs/envelope.md). CBC has no integrity: never
 * call these without the envelope's HMAC (OWASP Cryptographic Storage: CBC only with
 * encrypt-then-MAC). Split out so Wycheproof's vectors test the exact calls we ship.
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { abytes } from './bytes.js'
import { OpenFailedError } from './open-failed-error.js'

/** AES-256 key length. */
export const CBC_KEY_BYTES = 32
/** AES block length, also the IV length. */
export const AES_BLOCK_BYTES = 16

/**
 * Encrypts with PKCS#7 padding (RFC 5652 §6.3): the output is always 1 to 16 bytes
 * longer than the input, a whole number of blocks.
 *
 * @param key - 32-byte key
 * @param iv - 16-byte IV, random per value (CBC needs unpredictable IVs, SP 800-38A Appendix C)
 * @param plaintext - any length
 * @returns the ciphertext
 */
export function aes256CbcEncrypt(key: Buffer, iv: Buffer, plaintext: Buffer): Buffer {
  abytes(key, 'key', CBC_KEY_BYTES)
  abytes(iv, 'iv', AES_BLOCK_BYTES)
  abytes(plaintext, 'plaintext')
  const cipher = createCipheriv('aes-256-cbc', key, iv)
  return Buffer.concat([cipher.update(plaintext), cipher.final()])
}

/**
 * Decrypts and removes PKCS#7 padding.
 *
 * Only call this on ciphertext whose MAC has been verified: a caller that reports a
 * padding failure differently from a MAC failure is a padding oracle (Vaudenay 2002).
 *
 * @param key - 32-byte key
 * @param iv - 16-byte IV
 * @param ciphertext - a non-empty whole number of blocks
 * @returns the plaintext (a new Buffer, owned by the caller)
 * @throws OpenFailedError on a bad length or bad padding
 */
export function aes256CbcDecrypt(key: Buffer, iv: Buffer, ciphertext: Buffer): Buffer {
  abytes(key, 'key', CBC_KEY_BYTES)
  abytes(iv, 'iv', AES_BLOCK_BYTES)
  abytes(ciphertext, 'ciphertext')
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK_BYTES !== 0) {
    throw new OpenFailedError()
  }
  const decipher = createDecipheriv('aes-256-cbc', key, iv)
  const head = decipher.update(ciphertext)
  try {
    return Buffer.concat([head, decipher.final()])
  } catch {
    throw new OpenFailedError()
  } finally {
    head.fill(0)
  }
}
