/**
 * Pinning of the versioned emergency public key: a MAC that ties an emergency
 * key version to its X25519 public key, under a key the database does not hold.
 *
 * Pinning key:
 * ```
 * pinKey = HKDF-SHA256(ikm = auditKey, salt = "", info = "emr-vault/emergency-key-pinning/v1", L = 32)
 * ```
 * A subkey of the audit key, as for user key certificates (user-key-certificate.ts):
 * one deployment secret to keep, but a key of its own purpose, so no pin is ever
 * an audit row MAC, a certificate, or the reverse.
 *
 * Pin:
 * ```
 * pin = HMAC-SHA256(pinKey,
 *         "emr-vault/emergency-public-key/v2"   33 bytes of ASCII
 *       ‖ uint32be(version)                     1 for the first key, +1 per rotation
 *       ‖ publicKey)                            32 bytes (X25519)
 * ```
 * Fixed-length fields, so the encoding needs no prefixes. The version stops a
 * database writer from relabelling a key: a retired version-1 key put back as
 * version 3 does not verify. (It does not stop the retired row being put back
 * under its own version with its own valid pin; services/emergency-key-versions.ts
 * says what catches that.)
 *
 * The version-1 key of a database made before versions carries the older pin,
 * `HMAC-SHA256(auditKey, "emr-vault/emergency-public-key/v1" ‖ publicKey)`
 * (audit-mac.ts, emergencyKeyMac). That pin names no version; it is accepted
 * for version 1 only, the one version it was ever made for.
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { emergencyKeyMac } from './audit-mac.js'
import { abytes, wipe } from './bytes.js'
import { ainteger } from './checks.js'
import { u32be } from './encoding.js'
import { hkdfSha256 } from './hkdf.js'
import { HMAC_SHA256_BYTES, hmacSha256 } from './hmac.js'

/** Length of a pin (HMAC-SHA256). */
export const EMERGENCY_KEY_PIN_BYTES = HMAC_SHA256_BYTES
/** Largest emergency key version (uint32; the column is INT UNSIGNED). */
export const MAX_EMERGENCY_KEY_VERSION = 0xffff_ffff

const PIN_KEY_INFO = Buffer.from('emr-vault/emergency-key-pinning/v1', 'ascii')
const PIN_LABEL = Buffer.from('emr-vault/emergency-public-key/v2', 'ascii')

/** What a pin binds. */
export interface PinnedEmergencyKey {
  /** emergency_key.version. */
  readonly version: number
  /** emergency_key.public_key, 32 bytes. */
  readonly publicKey: Buffer
}

/**
 * The pin of one emergency key version, under a pinning key derived (and
 * wiped) here from the audit key.
 *
 * @param auditKey - the deployment's 32-byte audit key
 * @returns the 32-byte pin
 * @throws RangeError on a wrong key length or an out-of-range version
 */
export function emergencyKeyPin(auditKey: Buffer, key: PinnedEmergencyKey): Buffer {
  abytes(auditKey, 'auditKey', 32)
  ainteger(key.version, 'version', 1, MAX_EMERGENCY_KEY_VERSION)
  abytes(key.publicKey, 'publicKey', 32)
  const pinKey = hkdfSha256(auditKey, Buffer.alloc(0), PIN_KEY_INFO, 32)
  try {
    return hmacSha256(pinKey, PIN_LABEL, u32be(key.version), key.publicKey)
  } finally {
    wipe(pinKey)
  }
}

/**
 * Whether `pin` pins `key` to this deployment, compared in constant time: the
 * versioned pin, or for version 1 also the older unversioned one. False for a
 * missing or wrong-length pin.
 */
export function verifyEmergencyKeyPin(
  auditKey: Buffer,
  key: PinnedEmergencyKey,
  pin: Buffer | null,
): boolean {
  if (pin === null || !Buffer.isBuffer(pin) || pin.length !== EMERGENCY_KEY_PIN_BYTES)
    return false
  const same = (expected: Buffer) => timingSafeEqual(pin, expected)
  if (same(emergencyKeyPin(auditKey, key))) return true
  return key.version === 1 && same(emergencyKeyMac(auditKey, key.publicKey))
}
