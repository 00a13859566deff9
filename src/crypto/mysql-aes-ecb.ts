/**
 * MySQL's two-argument `AES_DECRYPT(crypt, key)` under the server's default
 * `block_encryption_mode = 'aes-128-ecb'`, done in Node: what a legacy column
 * written with `AES_ENCRYPT(value, key)` is read with when it is converted.
 *
 * Why in Node and not in SQL: the pooled connections run in aes-256-cbc, and the
 * mode must never change on them (a connection handed back in ECB would seal the
 * next value in ECB). A per-statement override exists on one engine only:
 * MySQL 9.7 refuses `SELECT /*+ SET_VAR(block_encryption_mode = …) *\/` (warning
 * 3637, "cannot be set using SET_VAR hint", and the statement runs in the
 * session's mode), while MariaDB 11.8 accepts `SET STATEMENT … FOR SELECT` and a
 * mode as fourth argument. In Node the mode is never touched on either server,
 * and the legacy key does not reach the server at all.
 *
 * ECB has no IV and no integrity; this is for reading old data once, never for
 * writing new.
 * @module
 */
import { createDecipheriv } from 'node:crypto'
import { abytes } from './bytes.js'

/** Key length of aes-128: MySQL folds every key into this many bytes. */
export const MYSQL_ECB_KEY_BYTES = 16
const BLOCK_BYTES = 16

/**
 * MySQL's key folding (mysys/my_aes.cc `my_aes_create_key`, the same in
 * MariaDB): a zero buffer of the mode's key length, each key byte XORed into
 * position `i mod length`. A 16-byte key is used as it is; any other length,
 * the empty key included, is folded without an error. The caller wipes the result.
 */
export function foldMysqlAesKey(key: Buffer, length = MYSQL_ECB_KEY_BYTES): Buffer {
  abytes(key, 'key')
  const folded = Buffer.alloc(length)
  for (let i = 0; i < key.length; i++) folded[i % length]! ^= key[i]!
  return folded
}

/**
 * `AES_DECRYPT(ciphertext, key)` as MySQL computes it in aes-128-ecb: the
 * plaintext, or `null` where MySQL gives NULL (a length that is not whole blocks,
 * or padding that does not check, which is what a wrong key gives 255 times in
 * 256; the 256th time it is garbage, here as on the server).
 */
export function mysqlAesEcbDecrypt(ciphertext: Buffer, key: Buffer): Buffer | null {
  abytes(ciphertext, 'ciphertext')
  if (ciphertext.length === 0 || ciphertext.length % BLOCK_BYTES !== 0) return null
  const folded = foldMysqlAesKey(key)
  try {
    const decipher = createDecipheriv('aes-128-ecb', folded, null)
    return Buffer.concat([decipher.update(ciphertext), decipher.final()])
  } catch {
    return null
  } finally {
    folded.fill(0)
  }
}
