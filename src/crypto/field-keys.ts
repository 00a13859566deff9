/**
 * Field subkeys (docs/concepts.md, docs/envelope.md): from one patient data key, HKDF-SHA256 derives an
 * encryption key for AES-256-CBC and a separate MAC key for HMAC-SHA256. Distinct
 * `info` labels keep the two independent (RFC 5869 §3.2), so the same PDK is never
 * used directly by two algorithms.
 * @module
 */
import { abytes } from './bytes.js'
import { hkdfSha256 } from './hkdf.js'
import { hmacPadsForKey, type HmacPads } from './hmac.js'
import { PATIENT_KEY_BYTES } from './patient-key.js'

/** Length of each field subkey. */
export const FIELD_KEY_BYTES = 32

/** HKDF `info` of the AES-256-CBC key. */
export const FIELD_ENC_INFO = 'emr-vault/v1/field-enc'
/** HKDF `info` of the HMAC-SHA256 key. */
export const FIELD_MAC_INFO = 'emr-vault/v1/field-mac'

/** The two field subkeys of one patient key version. */
export type FieldKeys = { enc: Buffer; mac: Buffer }

/** Empty salt: the PDK is already uniformly random (RFC 5869 §3.1: salt is optional). */
const NO_SALT = Buffer.alloc(0)

/**
 * Derives the field subkeys of a patient key.
 *
 * @param patientKey - the 32-byte PDK
 * @returns `{ enc, mac }`, 32 bytes each (secret: wipe when done)
 * @throws TypeError / RangeError if `patientKey` is not a 32-byte Buffer
 */
export function deriveFieldKeys(patientKey: Buffer): FieldKeys {
  abytes(patientKey, 'patientKey', PATIENT_KEY_BYTES)
  return {
    enc: hkdfSha256(
      patientKey,
      NO_SALT,
      Buffer.from(FIELD_ENC_INFO, 'ascii'),
      FIELD_KEY_BYTES,
    ),
    mac: hkdfSha256(
      patientKey,
      NO_SALT,
      Buffer.from(FIELD_MAC_INFO, 'ascii'),
      FIELD_KEY_BYTES,
    ),
  }
}

/**
 * The 64-byte HMAC pads of a field MAC key (RFC 2104 §2: key zero-padded to 64 bytes,
 * XORed with 0x36… and 0x5c…), so that SQL can compute the envelope tag as
 * `UNHEX(SHA2(CONCAT(outer, UNHEX(SHA2(CONCAT(inner, msg), 256))), 256))`
 * (docs/envelope.md; equal to node's `createHmac`, checked in test/unit/crypto/hmac.test.ts).
 *
 * @param macKey - the 32-byte `mac` subkey from {@link deriveFieldKeys}
 * @returns `{ inner, outer }`, 64 bytes each (secret: wipe when done)
 * @throws TypeError / RangeError if `macKey` is not a 32-byte Buffer
 */
export function hmacPads(macKey: Buffer): HmacPads {
  abytes(macKey, 'macKey', FIELD_KEY_BYTES)
  return hmacPadsForKey(macKey)
}
