import { wipe } from '../crypto/bytes.js'
import { emergencyKeyPin } from '../crypto/emergency-key-pin.js'
import { generateUserKeyPair } from '../crypto/keypair.js'
import { openPatientKey, sealPatientKey } from '../crypto/patient-key-seal.js'
import { rowIdFromString, rowIdToString } from '../db/row-id.js'
import {
  AccessDeniedError,
  ConfigurationError,
  NotFoundError,
  ValidationError,
} from '../errors/index.js'
import {
  deleteEmergencyKeyHolder,
  findEmergencyKey,
  findEmergencyKeyHolder,
  findEmergencyKeyVersion,
  findEmergencySeal,
  insertEmergencyKey,
  insertEmergencySeal,
  isEmergencyKeyHolder,
  listEmergencyKeys,
  listPatientsWithoutEmergencySeal,
  upsertEmergencyKeyHolder,
} from '../repositories/emergency-key.repository.js'
import type {
  EmergencyKeyRow,
  EmergencySealRow,
} from '../repositories/patient-key.row.js'
import {
  deleteUserGrants,
  findCurrentGrant,
  insertGrant,
  lockPatientKeyVersion,
} from '../repositories/patient-key.repository.js'
import { findUserById } from '../repositories/user.repository.js'
import type { Executor } from '../sql/prepared.js'
import { asIntegrityError } from './crypto-errors.js'
import {
  emergencyPrivateKeyContext,
  emergencyRecipientId,
  openWithRecovery,
  pinWithRecovery,
  requirePinned,
} from './emergency-key-versions.js'
import { checkRecoveryKey, recoveryOpener } from './key-openers.js'
import type { RecoveryCredentials } from './recovery.service.js'
import type { UnlockedUser } from './unlocked-user.js'
import { auditedTransaction } from './audited.js'
import { requireRole } from './roles.js'
import { inTransaction } from './transaction.js'
import { requireCertifiedKeys } from './user-key-check.js'
import { recoveryRecipientId, type VaultContext } from './vault-context.js'

/**
 * Break-glass: a user with the emergency role opens a patient they hold no grant
 * for, after giving a reason. The key path needs no offline key at that moment:
 * every patient key version is also sealed to the organisation's emergency key E,
 * whose private half each emergency user holds sealed to their own public key.
 * The access is a grant that expires, and it is audited.
 *
 * E has versions (migration 20261202_0005_emergency_key_versions): the current
 * one is the highest stored; while a rotation runs (emergency-rotation.service.ts)
 * two coexist, each patient seal names the one it is under, and break-glass opens
 * it with the holder's copy of that version.
 */

export const DEFAULT_BREAK_GLASS_MS = 60 * 60_000
const MAX_BREAK_GLASS_MS = 12 * 60 * 60_000

/**
 * Seals a patient key version to the emergency key, if the organisation has one.
 * Called wherever a patient key version is made (patient creation, rotation).
 */
export async function sealToEmergencyKey(
  db: Executor,
  ctx: VaultContext,
  patientId: Buffer,
  version: number,
  patientKey: Buffer,
): Promise<boolean> {
  const key = await findEmergencyKey(db)
  if (!key) return false
  await insertEmergencySeal(
    db,
    await emergencySealOf(ctx, key, patientId, version, patientKey),
  )
  return true
}

/**
 * The seal of a patient key version under emergency key `key` (its current key
 * during a rotation), refused if the stored key does not carry this deployment's
 * pin for its version: only a key this deployment made receives patient keys.
 */
export async function emergencySealOf(
  ctx: VaultContext,
  key: EmergencyKeyRow,
  patientId: Buffer,
  version: number,
  patientKey: Buffer,
): Promise<EmergencySealRow> {
  requirePinned(ctx, key)
  return {
    patient_id: patientId,
    key_version: version,
    emergency_key_version: key.version,
    sealed_key: await sealPatientKey(patientKey, key.public_key, {
      patientId: rowIdToString(patientId),
      keyVersion: version,
      recipientId: emergencyRecipientId(key.public_key),
    }),
  }
}

/**
 * Creates the emergency key if there is none, and seals every patient's current
 * key version that lacks an emergency seal (from the recovery seals). Resumable:
 * each patient is its own transaction and is skipped once sealed.
 */
export async function setUpEmergencyAccess(
  ctx: VaultContext,
  authority: RecoveryCredentials,
): Promise<{ created: boolean; sealed: number }> {
  await requireRole(ctx.db, authority.admin, 'admin', 'this')
  checkRecoveryKey(ctx, authority.recoveryPrivateKey)
  let created = false
  if (!(await findEmergencyKey(ctx.db))) {
    const pair = generateUserKeyPair()
    try {
      const act = {
        actorUserId: authority.admin.userIdBytes,
        action: 'emergency.setup',
      } as const
      await auditedTransaction(ctx, act, async (trx) => {
        if (await findEmergencyKey(trx)) return
        await insertEmergencyKey(trx, {
          version: 1,
          public_key: pair.publicKey,
          public_key_mac: emergencyKeyPin(ctx.auditKey, {
            version: 1,
            publicKey: pair.publicKey,
          }),
          recovery_sealed_private_key: await sealPatientKey(
            pair.privateKey,
            ctx.recoveryPublicKey,
            emergencyPrivateKeyContext(1, recoveryRecipientId(ctx.recoveryFingerprint)),
          ),
          created_by: authority.admin.userIdBytes,
        })
        created = true
      })
    } catch (err) {
      // Two administrators at once: the other one's key stands.
      if (!(await findEmergencyKey(ctx.db))) throw err
    } finally {
      wipe(pair.privateKey)
    }
  }
  for (const key of await listEmergencyKeys(ctx.db))
    await pinWithRecovery(ctx, ctx.db, key, authority.recoveryPrivateKey)
  const open = recoveryOpener(ctx, authority.recoveryPrivateKey)
  let sealed = 0
  for (;;) {
    const batch = await listPatientsWithoutEmergencySeal(ctx.db, 100)
    if (batch.length === 0) break
    for (const patientId of batch) {
      await inTransaction(ctx.db, async (trx) => {
        const version = await lockPatientKeyVersion(trx, patientId)
        if (version === undefined || (await findEmergencySeal(trx, patientId, version)))
          return
        const patientKey = await open(trx, patientId, version)
        try {
          if (await sealToEmergencyKey(trx, ctx, patientId, version, patientKey)) sealed++
        } finally {
          wipe(patientKey)
        }
      })
    }
  }
  return { created, sealed }
}

/** Hands the emergency private key to a user who holds the emergency role. */
export async function grantEmergencyKey(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  userId: string,
): Promise<void> {
  await requireRole(ctx.db, authority.admin, 'admin', 'this')
  checkRecoveryKey(ctx, authority.recoveryPrivateKey)
  const uid = rowIdFromString(userId, 'userId')
  const act = {
    actorUserId: authority.admin.userIdBytes,
    action: 'emergency.grant',
    targetUserId: uid,
  } as const
  await auditedTransaction(ctx, act, async (trx) => {
    const keys = await listEmergencyKeys(trx)
    if (keys.length === 0)
      throw new ConfigurationError('no emergency key: set up emergency access first')
    const user = await findUserById(trx, uid)
    if (!user) throw new NotFoundError('user', userId)
    if (!user.roles.split(',').includes('emergency')) {
      throw new ValidationError('userId', 'names a user without the emergency role')
    }
    requireCertifiedKeys(ctx, [user])
    // Every version stored: during a rotation the patients not yet re-sealed are
    // still under the older one.
    for (const key of keys) {
      requirePinned(ctx, key)
      const emergencyPrivate = await openWithRecovery(
        ctx,
        key,
        authority.recoveryPrivateKey,
      )
      try {
        await upsertEmergencyKeyHolder(trx, {
          user_id: uid,
          emergency_key_version: key.version,
          sealed_private_key: await sealPatientKey(
            emergencyPrivate,
            user.public_key,
            emergencyPrivateKeyContext(key.version, rowIdToString(uid)),
          ),
          granted_by: authority.admin.userIdBytes,
        })
      } finally {
        wipe(emergencyPrivate)
      }
    }
  })
}

/**
 * Takes the emergency key away from a user (role withdrawn, user leaving): every
 * version's copy. A copy sealed to them in an older backup still opens with
 * their old password, and opens every seal under that version: only a rotation
 * of the emergency key (emergency-rotation.service.ts) ends that, which is why
 * the CLI and the API docs suggest one after every revoke.
 */
export async function revokeEmergencyKey(
  ctx: VaultContext,
  admin: UnlockedUser,
  userId: string,
): Promise<boolean> {
  await requireRole(ctx.db, admin, 'admin', 'this')
  const uid = rowIdFromString(userId, 'userId')
  const act = {
    actorUserId: admin.userIdBytes,
    action: 'emergency.revoke',
    targetUserId: uid,
  } as const
  return auditedTransaction(ctx, act, (trx) => deleteEmergencyKeyHolder(trx, uid))
}

function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim().length < 10 || reason.length > 500) {
    throw new ValidationError('reason', 'must be a string of 10 to 500 characters')
  }
  if (!(reason as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new ValidationError('reason', 'must be valid Unicode')
  }
  return reason
}

/**
 * Opens a patient the user holds no grant for, for `durationMs` (1 hour by
 * default, at most 12). Needs the emergency role, the emergency key, and a reason.
 */
export async function breakGlass(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  reason: string,
  durationMs: number = DEFAULT_BREAK_GLASS_MS,
): Promise<{ expiresAt: Date }> {
  const pid = rowIdFromString(patientId, 'patientId')
  checkReason(reason)
  if (
    !Number.isInteger(durationMs) ||
    durationMs < 1000 ||
    durationMs > MAX_BREAK_GLASS_MS
  ) {
    throw new ValidationError(
      'durationMs',
      `must be an integer from 1000 to ${MAX_BREAK_GLASS_MS}`,
    )
  }
  const privateKey = session.privateKey()
  const expiresAt = new Date(ctx.now() + durationMs)
  const act = {
    actorUserId: session.userIdBytes,
    action: 'break_glass.open',
    patientId: pid,
    reason,
    detail: `until ${expiresAt.toISOString()}`,
  } as const
  await auditedTransaction(ctx, act, async (trx) => {
    // Inside the audited transaction, so that a refused attempt is recorded too.
    await requireRole(trx, session, 'emergency', 'break-glass')
    // The emergency key before the patient: until then the caller may open no
    // patient, so an id of no patient must be refused as any other id is.
    // A holder may open every patient, so to them NOT_FOUND tells nothing.
    if (!(await isEmergencyKeyHolder(trx, session.userIdBytes)))
      throw new AccessDeniedError('you do not hold the emergency key')
    const version = await lockPatientKeyVersion(trx, pid)
    if (version === undefined) throw new NotFoundError('patient', patientId)
    if (await findCurrentGrant(trx, pid, session.userIdBytes)) {
      throw new ValidationError('patientId', 'you already hold a grant for this patient')
    }
    const seal = await findEmergencySeal(trx, pid, version)
    if (!seal)
      throw new ConfigurationError(
        `patient ${patientId} is not sealed to the emergency key`,
      )
    // The copy of the version the seal is under: during a rotation a patient
    // not re-sealed yet is still under the older one. The row lock on the
    // patient keeps the rotation from re-sealing it meanwhile.
    const [key, holder] = await Promise.all([
      findEmergencyKeyVersion(trx, seal.emergency_key_version),
      findEmergencyKeyHolder(trx, session.userIdBytes, seal.emergency_key_version),
    ])
    if (!key || !holder) throw new AccessDeniedError('you do not hold the emergency key')
    let emergencyPrivate: Buffer | undefined
    let patientKey: Buffer | undefined
    try {
      emergencyPrivate = await openPatientKey(
        holder.sealed_private_key,
        privateKey,
        emergencyPrivateKeyContext(key.version, session.userId),
      )
      patientKey = await openPatientKey(seal.sealed_key, emergencyPrivate, {
        patientId: rowIdToString(pid),
        keyVersion: version,
        recipientId: emergencyRecipientId(key.public_key),
      })
      // Any row left is an expired break-glass grant or an old version's: replace it.
      await deleteUserGrants(trx, pid, session.userIdBytes)
      await insertGrant(trx, {
        patient_id: pid,
        key_version: version,
        user_id: session.userIdBytes,
        sealed_key: await sealPatientKey(patientKey, session.publicKey, {
          patientId: rowIdToString(pid),
          keyVersion: version,
          recipientId: session.userId,
        }),
        granted_by: session.userIdBytes,
        expires_at: expiresAt,
      })
    } catch (err) {
      throw asIntegrityError(err, 'emergency key path')
    } finally {
      wipe(emergencyPrivate, patientKey)
    }
  })
  return { expiresAt }
}
