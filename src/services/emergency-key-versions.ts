import { createHash } from 'node:crypto'
import { emergencyKeyPin, verifyEmergencyKeyPin } from '../crypto/emergency-key-pin.js'
import { wipe } from '../crypto/bytes.js'
import { x25519PublicKeyOf } from '../crypto/keypair.js'
import { openPatientKey, type SealContext } from '../crypto/patient-key-seal.js'
import { IntegrityError } from '../errors/index.js'
import {
  recordedEmergencyRotations,
  setEmergencyKeyMac,
} from '../repositories/emergency-key.repository.js'
import type { EmergencyKeyRow } from '../repositories/patient-key.row.js'
import type { Executor } from '../sql/prepared.js'
import { asIntegrityError } from './crypto-errors.js'
import { recoveryRecipientId, type VaultContext } from './vault-context.js'

/**
 * What every use of a versioned emergency key E checks, and the seal contexts
 * of its private half (break-glass.service.ts, emergency-rotation.service.ts).
 *
 * What is caught of a database writer:
 * - a public key swapped in (any version): its pin (crypto/emergency-key-pin.ts)
 *   does not verify, and nothing is sealed to it (IntegrityError);
 * - a retired key relabelled as a newer version: the pin binds the version;
 * - a retired key row put back under its own version with its own valid pin
 *   (from a backup, after the rotation deleted it): its pin verifies, so
 *   patient creation would seal to it while it is the highest version stored.
 *   The audit trail records every rotation (`start v1->v2`, `finish v1->v2`,
 *   under the audit key's MAC chain); a rotation refuses to start from a key
 *   older than the trail's last rotation, and the doctor's `emergency_key`
 *   line FAILs on it ({@link requireNotRolledBack}). Not caught: a restore of
 *   the whole database, audit log included, to before the rotation (the trail
 *   then agrees with the old key); operators keep the version the rotation
 *   printed and compare (docs/operator-guide.md).
 */

/** HPKE context of E's private key sealed to a recipient: E's version is the key version. */
export function emergencyPrivateKeyContext(
  version: number,
  recipientId: string,
): SealContext {
  // The id is no UUID, so no patient's seal context can coincide with it.
  return { patientId: 'emergency-key', keyVersion: version, recipientId }
}

/** The recipient id of a patient seal to E: the hash of E's public key. */
export function emergencyRecipientId(publicKey: Buffer): string {
  return `emergency:${createHash('sha256').update(publicKey).digest('hex')}`
}

/** Whether the stored key carries this deployment's pin for its version. */
export function isPinned(ctx: VaultContext, key: EmergencyKeyRow): boolean {
  return verifyEmergencyKeyPin(
    ctx.auditKey,
    { version: key.version, publicKey: key.public_key },
    key.public_key_mac,
  )
}

/**
 * Refuses a stored key this deployment did not make, before anything is sealed
 * to it: a public key swapped in by someone with write access to the table would
 * otherwise receive every new patient key.
 */
export function requirePinned(ctx: VaultContext, key: EmergencyKeyRow): void {
  if (!isPinned(ctx, key)) {
    throw new IntegrityError(
      `the emergency public key (version ${key.version}) is not the one this deployment set up`,
    )
  }
}

/** Refuses a current key older than the last rotation the audit trail records. */
export async function requireNotRolledBack(
  db: Executor,
  current: EmergencyKeyRow,
): Promise<void> {
  const { startedTo } = await recordedEmergencyRotations(db)
  if (current.version < startedTo) {
    throw new IntegrityError(
      `the emergency key is version ${current.version}, but the audit trail records a rotation ` +
        `to version ${startedTo}: a retired key was put back`,
    )
  }
}

/**
 * E's private key (one version), opened from its recovery seal and checked to be
 * the private half of the stored public key.
 */
export async function openWithRecovery(
  ctx: VaultContext,
  key: EmergencyKeyRow,
  recoveryPrivateKey: Buffer,
): Promise<Buffer> {
  let opened: Buffer
  try {
    opened = await openPatientKey(
      key.recovery_sealed_private_key,
      recoveryPrivateKey,
      emergencyPrivateKeyContext(
        key.version,
        recoveryRecipientId(ctx.recoveryFingerprint),
      ),
    )
  } catch (err) {
    throw asIntegrityError(err, 'recovery seal of the emergency key')
  }
  if (!x25519PublicKeyOf(opened).equals(key.public_key)) {
    wipe(opened)
    throw new IntegrityError(
      `the stored emergency public key (version ${key.version}) does not match its recovery seal`,
    )
  }
  return opened
}

/**
 * Makes sure a stored key carries a valid pin. A version-1 key without one (made
 * before the pin existed, or pinned under another audit key) is pinned only if
 * the recovery key proves it: its recovery seal must open to the private half
 * of exactly that public key. A later version was pinned when it was made, so
 * one without a valid pin is refused, never re-pinned: the recovery public key
 * is no secret, so anyone could make a pair whose recovery seal "proves" it.
 */
export async function pinWithRecovery(
  ctx: VaultContext,
  db: Executor,
  key: EmergencyKeyRow,
  recoveryPrivateKey: Buffer,
): Promise<void> {
  if (isPinned(ctx, key)) return
  if (key.version !== 1) requirePinned(ctx, key)
  wipe(await openWithRecovery(ctx, key, recoveryPrivateKey))
  await setEmergencyKeyMac(
    db,
    key.version,
    emergencyKeyPin(ctx.auditKey, { version: key.version, publicKey: key.public_key }),
  )
}
