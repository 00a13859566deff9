/**
 * Certificates of user public keys: a MAC that ties a user id, a key version and
 * an X25519 public key together, under a key the database does not hold.
 *
 * Certification key:
 * ```
 * certKey = HKDF-SHA256(ikm = auditKey, salt = "" , info = "emr-vault/user-key-certification/v1", L = 32)
 * ```
 * A subkey of the audit key rather than a second deployment secret: operators keep
 * one secret in one store, already kept away from the database, and nothing new
 * to configure or lose. HKDF under its own info label still gives a key of its own
 * purpose: no certificate can be computed from an audit row's MAC or the reverse,
 * and neither MAC is ever made under the other's key.
 *
 * Certificate:
 * ```
 * cert = HMAC-SHA256(certKey,
 *          "emr-vault/user-public-key/v1"    28 bytes of ASCII
 *        ‖ userId                            16 bytes (the users.id UUID)
 *        ‖ uint32be(keyVersion)              1 for the first key, +1 per new key pair
 *        ‖ publicKey)                        32 bytes (X25519)
 * ```
 * Every field has a fixed length, so the encoding is unambiguous without prefixes.
 * The user id stops a certificate from being copied to another user; the version
 * stops an old certificate of the same user from standing for the current one.
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { abytes } from './bytes.js'
import { ainteger } from './checks.js'
import { u32be } from './encoding.js'
import { hkdfSha256 } from './hkdf.js'
import { HMAC_SHA256_BYTES, hmacSha256 } from './hmac.js'

/** Length of a certificate (HMAC-SHA256). */
export const USER_KEY_CERTIFICATE_BYTES = HMAC_SHA256_BYTES
/** Largest key version (uint32, the column is INT UNSIGNED). */
export const MAX_USER_KEY_VERSION = 0xffff_ffff

const CERT_KEY_INFO = Buffer.from('emr-vault/user-key-certification/v1', 'ascii')
const CERT_LABEL = Buffer.from('emr-vault/user-public-key/v1', 'ascii')

/**
 * The certification key derived from the audit key (see the module comment).
 *
 * @param auditKey - the deployment's 32-byte audit key
 * @returns 32 bytes (secret: wipe when done)
 * @throws RangeError if the audit key is not 32 bytes
 */
export function userCertificationKey(auditKey: Buffer): Buffer {
  abytes(auditKey, 'auditKey', 32)
  return hkdfSha256(auditKey, Buffer.alloc(0), CERT_KEY_INFO, 32)
}

/** What a certificate binds. */
export interface CertifiedKey {
  /** users.id, 16 bytes. */
  readonly userId: Buffer
  /** users.public_key_version. */
  readonly keyVersion: number
  /** users.public_key, 32 bytes. */
  readonly publicKey: Buffer
}

/**
 * The certificate of one user public key.
 *
 * @param certKey - from {@link userCertificationKey}
 * @returns the 32-byte certificate
 * @throws TypeError / RangeError on wrong lengths or an out-of-range version
 */
export function userKeyCertificate(certKey: Buffer, key: CertifiedKey): Buffer {
  abytes(certKey, 'certKey', 32)
  abytes(key.userId, 'userId', 16)
  ainteger(key.keyVersion, 'keyVersion', 1, MAX_USER_KEY_VERSION)
  abytes(key.publicKey, 'publicKey', 32)
  return hmacSha256(certKey, CERT_LABEL, key.userId, u32be(key.keyVersion), key.publicKey)
}

/**
 * Whether `certificate` is the certificate of `key`, compared in constant time.
 * False for a missing or wrong-length certificate.
 */
export function verifyUserKeyCertificate(
  certKey: Buffer,
  key: CertifiedKey,
  certificate: Buffer | null,
): boolean {
  const expected = userKeyCertificate(certKey, key)
  return (
    certificate !== null &&
    Buffer.isBuffer(certificate) &&
    certificate.length === expected.length &&
    timingSafeEqual(certificate, expected)
  )
}
