/**
 * HKDF-SHA256 (RFC 5869) over node:crypto's `hkdfSync`, with the argument checks of
 * this layer. `deriveFieldKeys` uses it; it is split out so RFC 5869's and
 * Wycheproof's vectors test the exact call we ship.
 * @module
 */
import { hkdfSync } from 'node:crypto'
import { abytes } from './bytes.js'
import { ainteger } from './checks.js'

/** SHA-256 output length (HashLen). */
export const SHA256_BYTES = 32
/** RFC 5869 §2.3: L ≤ 255·HashLen. */
export const HKDF_SHA256_MAX_OUTPUT_BYTES = 255 * SHA256_BYTES
/** Node's `hkdfSync` rejects `info` longer than 1024 bytes. */
export const HKDF_MAX_INFO_BYTES = 1024

/**
 * HKDF-Extract then HKDF-Expand with SHA-256 (RFC 5869 §2.2–2.3).
 *
 * @param ikm - input keying material (may be empty)
 * @param salt - salt; empty means HashLen zero bytes (RFC 5869 §2.2)
 * @param info - context label, at most 1024 bytes (node's limit)
 * @param length - output length, 1 to 8160
 * @returns `length` bytes of output keying material (secret)
 * @throws TypeError / RangeError for bad arguments
 */
export function hkdfSha256(
  ikm: Buffer,
  salt: Buffer,
  info: Buffer,
  length: number,
): Buffer {
  abytes(ikm, 'ikm')
  abytes(salt, 'salt')
  abytes(info, 'info')
  if (info.length > HKDF_MAX_INFO_BYTES) {
    throw new RangeError(
      `"info" must be at most ${HKDF_MAX_INFO_BYTES} bytes, got ${info.length}`,
    )
  }
  ainteger(length, 'length', 1, HKDF_SHA256_MAX_OUTPUT_BYTES)
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length))
}
