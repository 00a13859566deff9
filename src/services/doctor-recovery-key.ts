import { createHash } from 'node:crypto'
import { line, type PostureCheck } from './doctor-check.js'

/** Hex digits of the SHA-256 fingerprint shown: enough to compare by eye, as SSH does. */
const FINGERPRINT_HEX = 16

/**
 * The organisation's recovery public key (X25519, 32 bytes), which every patient
 * key is also sealed to. PASS with a fingerprint prefix (of the public key: an
 * operator compares it with the offline key's record); WARN when not given (the
 * doctor cannot see it); FAIL when not 32 bytes.
 */
export function recoveryKeyCheck(recoveryPublicKey: Buffer | undefined): PostureCheck {
  const check = line('recovery_key', 'Recovery public key configured')
  if (recoveryPublicKey === undefined) {
    return check.warn(
      'No recovery public key was given to the doctor.',
      "Pass the deployment's recoveryPublicKey (the same one given to createVault).",
    )
  }
  if (!Buffer.isBuffer(recoveryPublicKey) || recoveryPublicKey.length !== 32) {
    return check.fail(
      `The recovery public key must be 32 bytes (X25519), got ${
        Buffer.isBuffer(recoveryPublicKey) ? recoveryPublicKey.length : 'a non-Buffer'
      }.`,
      'Configure the raw 32-byte X25519 public key made by generateRecoveryKeyPair().',
    )
  }
  const fingerprint = createHash('sha256').update(recoveryPublicKey).digest('hex')
  return check.pass(
    `32-byte X25519 public key, SHA-256 fingerprint ${fingerprint.slice(0, FINGERPRINT_HEX)}…`,
  )
}
