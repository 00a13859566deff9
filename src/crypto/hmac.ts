/**
 * HMAC-SHA256 (RFC 2104, FIPS 198-1) in the two forms the envelope needs: node's
 * `createHmac` for the reference implementation, and the precomputed inner/outer pads
 * with which SQL computes the same MAC from two `SHA2(…, 256)` calls.
 * @module
 */
import { createHash, createHmac } from 'node:crypto'
import { abytes, wipe } from './bytes.js'

/** SHA-256's block size B (RFC 2104 §2). */
export const SHA256_BLOCK_BYTES = 64
/** HMAC-SHA256 output length. */
export const HMAC_SHA256_BYTES = 32

/**
 * HMAC-SHA256 of the concatenation of `parts`.
 *
 * @param key - the MAC key (any length)
 * @param parts - message pieces, MACed in order as one message
 * @returns the 32-byte tag
 */
export function hmacSha256(key: Buffer, ...parts: Buffer[]): Buffer {
  abytes(key, 'key')
  const mac = createHmac('sha256', key)
  parts.forEach((part, i) => {
    abytes(part, `parts[${i}]`)
    mac.update(part)
  })
  return mac.digest()
}

/** The two 64-byte HMAC pads of a key: `K ⊕ ipad` and `K ⊕ opad`. */
export type HmacPads = { inner: Buffer; outer: Buffer }

/**
 * The HMAC-SHA256 pads of a key of any length (RFC 2104 §2): a key longer than B = 64
 * bytes is first replaced by SHA-256(key); the key is then zero-padded to 64 bytes and
 * XORed with 0x36 (inner) and 0x5c (outer). Then
 * `HMAC(K, m) = SHA256(outer ‖ SHA256(inner ‖ m))`.
 *
 * @param key - the MAC key, any length
 * @returns the two pads (secret: equivalent to the key; wipe when done)
 */
export function hmacPadsForKey(key: Buffer): HmacPads {
  abytes(key, 'key')
  const block = Buffer.alloc(SHA256_BLOCK_BYTES)
  const hashed =
    key.length > SHA256_BLOCK_BYTES
      ? createHash('sha256').update(key).digest()
      : undefined
  ;(hashed ?? key).copy(block)
  const inner = Buffer.alloc(SHA256_BLOCK_BYTES)
  const outer = Buffer.alloc(SHA256_BLOCK_BYTES)
  for (let i = 0; i < SHA256_BLOCK_BYTES; i++) {
    inner[i] = block[i]! ^ 0x36
    outer[i] = block[i]! ^ 0x5c
  }
  wipe(block, hashed)
  return { inner, outer }
}
