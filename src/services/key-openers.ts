import { abytes } from '../crypto/bytes.js'
import { x25519PublicKeyOf } from '../crypto/keypair.js'
import { openPatientKey } from '../crypto/patient-key-seal.js'
import { rowIdToString } from '../db/row-id.js'
import { ConfigurationError, IntegrityError } from '../errors/index.js'
import { findRecoverySeal } from '../repositories/patient-key.repository.js'
import type { Executor } from '../sql/prepared.js'
import { asIntegrityError } from './crypto-errors.js'
import { openGrant, requireGrant, requireLastingGrant } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import { recoveryRecipientId, type VaultContext } from './vault-context.js'

/**
 * How an operation gets hold of a patient key version it must re-seal: through
 * the acting user's own grant, or through the organisation's recovery key.
 * Returns the key; the caller wipes it.
 */
export type PatientKeyOpener = (
  db: Executor,
  patientId: Buffer,
  version: number,
) => Promise<Buffer>

export function grantOpener(session: UnlockedUser): PatientKeyOpener {
  return async (db, patientId, version) => {
    const grant = requireLastingGrant(await requireGrant(db, session, patientId, true))
    if (grant.key_version !== version) {
      throw new IntegrityError(
        `grant of patient ${rowIdToString(patientId)} is not for the current key`,
      )
    }
    return openGrant(session, grant)
  }
}

/** Checks that `recoveryPrivateKey` belongs to the configured recovery public key. */
export function checkRecoveryKey(ctx: VaultContext, recoveryPrivateKey: Buffer): void {
  try {
    abytes(recoveryPrivateKey, 'recoveryPrivateKey', 32)
  } catch (err) {
    throw new ConfigurationError((err as Error).message)
  }
  if (!x25519PublicKeyOf(recoveryPrivateKey).equals(ctx.recoveryPublicKey)) {
    throw new ConfigurationError(
      'the recovery private key does not match the configured recovery public key',
    )
  }
}

export function recoveryOpener(
  ctx: VaultContext,
  recoveryPrivateKey: Buffer,
): PatientKeyOpener {
  checkRecoveryKey(ctx, recoveryPrivateKey)
  return async (db, patientId, version) => {
    const seal = await findRecoverySeal(db, patientId, version)
    const id = rowIdToString(patientId)
    if (!seal)
      throw new IntegrityError(
        `patient ${id} has no recovery seal for key version ${version}`,
      )
    // The recovery public key comes from configuration, so a database writer
    // cannot change it; the seal's stored fingerprint must name it (a seal made
    // for another recovery key, or a row moved from another deployment, is
    // refused here by name rather than as a failed open).
    if (!seal.recovery_key_fingerprint.equals(ctx.recoveryFingerprint)) {
      throw new IntegrityError(
        `recovery seal of patient ${id} was made for another recovery key than the configured one`,
      )
    }
    try {
      return await openPatientKey(seal.sealed_key, recoveryPrivateKey, {
        patientId: id,
        keyVersion: version,
        recipientId: recoveryRecipientId(ctx.recoveryFingerprint),
      })
    } catch (err) {
      throw asIntegrityError(err, `recovery seal of patient ${id}`)
    }
  }
}
