/**
 * Wrapping of the user's X25519 private key under their KEK (docs/concepts.md):
 * AES-256-GCM with AAD naming the user, so a wrapped key copied onto another user's
 * row does not open there.
 *
 * Format: `0x01 ‖ nonce (12) ‖ ciphertext (32) ‖ tag (16)`, 61 bytes.
 * AAD: `"emr-vault/user-private-key" ‖ 0x01 ‖ len (uint16 BE) ‖ UTF-8(userId)`.
 * @module
 */
import { abytes, randomBytes } from './bytes.js'
import { utf8Id } from './checks.js'
import {
  GCM_NONCE_BYTES,
  GCM_TAG_BYTES,
  aes256GcmOpen,
  aes256GcmSeal,
} from './aes-gcm.js'
import { u16Prefixed } from './encoding.js'
import { KEK_BYTES } from './kek.js'
import { OpenFailedError } from './open-failed-error.js'
import { X25519_KEY_BYTES } from './x25519-key-object.js'

/** Format version of a wrapped private key. */
export const PRIVATE_KEY_WRAP_VERSION = 0x01
/** Length of a wrapped private key: version, nonce, ciphertext, tag. */
export const WRAPPED_PRIVATE_KEY_BYTES =
  1 + GCM_NONCE_BYTES + X25519_KEY_BYTES + GCM_TAG_BYTES
/** Longest user id accepted, in UTF-8 bytes (the uint16 length prefix). */
export const MAX_USER_ID_BYTES = 0xffff

/** Domain-separation label: this AAD can never be mistaken for another of our AADs. */
const AAD_LABEL = Buffer.from('emr-vault/user-private-key', 'ascii')

function wrapAad(userIdBytes: Buffer): Buffer {
  return Buffer.concat([
    AAD_LABEL,
    Buffer.of(PRIVATE_KEY_WRAP_VERSION),
    u16Prefixed(userIdBytes),
  ])
}

/**
 * Wraps a private key under a KEK, for the user it belongs to.
 *
 * A random 96-bit nonce per wrap is safe here: a KEK wraps one key per password
 * (re-wrapped on change), far below GCM's 2^32 random-nonce limit (SP 800-38D §8.3).
 *
 * @param privateKey - the raw 32-byte X25519 private key
 * @param kek - the user's 32-byte KEK (`deriveKek`)
 * @param userId - the user's id, bound into the AAD
 * @returns the 61-byte wrapped key
 * @throws TypeError / RangeError for bad arguments
 */
export function wrapPrivateKey(privateKey: Buffer, kek: Buffer, userId: string): Buffer {
  abytes(privateKey, 'privateKey', X25519_KEY_BYTES)
  abytes(kek, 'kek', KEK_BYTES)
  const aad = wrapAad(utf8Id(userId, 'userId', MAX_USER_ID_BYTES))
  const nonce = randomBytes(GCM_NONCE_BYTES)
  const sealed = aes256GcmSeal(kek, nonce, privateKey, aad)
  return Buffer.concat([Buffer.of(PRIVATE_KEY_WRAP_VERSION), nonce, sealed])
}

/**
 * Unwraps a private key.
 *
 * @param wrapped - the stored wrapped key
 * @param kek - the 32-byte KEK derived from the password
 * @param userId - the id of the user whose row `wrapped` came from
 * @returns the raw 32-byte private key (secret: wipe when done)
 * @throws OpenFailedError on a wrong KEK (wrong password), wrong user, any altered
 *   byte, or a malformed value
 * @throws TypeError / RangeError for arguments of the wrong type or key length
 */
export function unwrapPrivateKey(wrapped: Buffer, kek: Buffer, userId: string): Buffer {
  abytes(wrapped, 'wrapped')
  abytes(kek, 'kek', KEK_BYTES)
  const aad = wrapAad(utf8Id(userId, 'userId', MAX_USER_ID_BYTES))
  if (
    wrapped.length !== WRAPPED_PRIVATE_KEY_BYTES ||
    wrapped[0] !== PRIVATE_KEY_WRAP_VERSION
  ) {
    throw new OpenFailedError()
  }
  const nonce = wrapped.subarray(1, 1 + GCM_NONCE_BYTES)
  return aes256GcmOpen(kek, nonce, wrapped.subarray(1 + GCM_NONCE_BYTES), aad)
}
