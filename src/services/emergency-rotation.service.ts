import { wipe } from '../crypto/bytes.js'
import {
  emergencyKeyPin,
  MAX_EMERGENCY_KEY_VERSION,
} from '../crypto/emergency-key-pin.js'
import { generateUserKeyPair } from '../crypto/keypair.js'
import { sealPatientKey } from '../crypto/patient-key-seal.js'
import { rowIdToString } from '../db/row-id.js'
import { ConfigurationError, IntegrityError, ValidationError } from '../errors/index.js'
import {
  countPatientsNotSealedTo,
  deleteEmergencyVersionsBelow,
  findEmergencyKeyVersion,
  findEmergencySeal,
  insertEmergencyKey,
  insertEmergencySeal,
  listEmergencyKeyHolders,
  listEmergencyKeys,
  listPatientsNotSealedTo,
  replaceEmergencySeal,
  upsertEmergencyKeyHolder,
  type RetiredEmergencyMaterial,
} from '../repositories/emergency-key.repository.js'
import { lockPatientKeyVersion } from '../repositories/patient-key.repository.js'
import { appendAudit } from './audit.service.js'
import { auditedTransaction } from './audited.js'
import { emergencySealOf } from './break-glass.service.js'
import {
  emergencyPrivateKeyContext,
  pinWithRecovery,
  requireNotRolledBack,
  requirePinned,
} from './emergency-key-versions.js'
import { recoveryOpener, type PatientKeyOpener } from './key-openers.js'
import type { RecoveryCredentials } from './recovery.service.js'
import { requireFields } from './require-object.js'
import { requireRole } from './roles.js'
import { inTransaction } from './transaction.js'
import { requireCertifiedKeys } from './user-key-check.js'
import { recoveryRecipientId, type VaultContext } from './vault-context.js'

/**
 * Rotation of the emergency (break-glass) key pair E, so that a former holder's
 * old copy of E (sealed to their old password, in an old backup) opens nothing
 * after it. Three steps, each one transaction or many small ones:
 *
 * 1. Start (one audited transaction, `start v1->v2`): a new pair E' as version
 *    n+1, pinned (crypto/emergency-key-pin.ts) and sealed to the recovery key;
 *    E' sealed to every holder of E who still has the emergency role and is not
 *    disabled, each checked against their key certificate first (one failure
 *    refuses the start, nothing written). From its commit E' is the current key:
 *    every patient created or rotated afterwards is sealed to E' only.
 * 2. Re-seal: each patient whose current key version is not sealed to E' is,
 *    in a transaction of its own: the patient key opened from its recovery seal
 *    (the recovery key, as emergency set-up does; E's private key is never
 *    needed), sealed to E', the seal under E replaced in place. Killed at any
 *    moment, a patient is under E or under E', never neither; break-glass works
 *    throughout, with the holder's copy of the version the seal is under.
 * 3. Finish (one audited transaction, `finish v1->v2`): once no patient is left
 *    under E, every row under E is deleted: the key row with its recovery seal,
 *    every holder copy, any patient seal left. Foreign keys make it impossible
 *    to delete E while a seal under it is left.
 *
 * Calling it again while two versions are stored resumes at step 2; after step
 * 3 it starts a new rotation. A revoke before the start leaves the revoked user
 * out of E'; a revoke during the run deletes their copies of both versions.
 * What a database writer can and cannot do meanwhile: emergency-key-versions.ts.
 */

/** Patients re-sealed at once, each in its own transaction: seals run off the event loop. */
const CONCURRENT_PATIENTS = 4
const BATCH = 200

export interface EmergencyRotationResult {
  /** The version rotated from (the oldest stored when the call began). */
  readonly fromVersion: number
  /** The version rotated to, the current key. */
  readonly toVersion: number
  /** True when this call picked up a rotation started earlier. */
  readonly resumed: boolean
  /** Holders given a copy of the new key (at the start; 0 when resumed). */
  readonly holders: number
  /** Patients this call re-sealed to the new key. */
  readonly resealed: number
  /** False when stopped by `signal`: the old key still stands beside the new one. */
  readonly finished: boolean
  /** What the finish destroyed under the old key (zeros when not finished). */
  readonly retired: RetiredEmergencyMaterial
}

export interface EmergencyRotationProgress {
  readonly resealed: number
  readonly total: number
}

export interface EmergencyRotationOptions {
  readonly onProgress?: (p: EmergencyRotationProgress) => void
  /** Stops the run cleanly between two patients; a later call resumes it. */
  readonly signal?: AbortSignal
}

const NOTHING_RETIRED: RetiredEmergencyMaterial = Object.freeze({
  seals: 0,
  holders: 0,
  keys: 0,
})

/** A patient sealed meanwhile under the old key (a transaction older than the start): re-seal again. */
class NotAllResealed extends Error {}

export async function rotateEmergencyKey(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  options: EmergencyRotationOptions = {},
): Promise<EmergencyRotationResult> {
  const { onProgress, signal } = requireFields<EmergencyRotationOptions>(
    options,
    'options',
    ['onProgress', 'signal'],
  )
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw new ValidationError('options.onProgress', 'must be a function')
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new ValidationError('options.signal', 'must be an AbortSignal')
  await requireRole(ctx.db, authority.admin, 'admin', 'emergency key rotation')
  const open = recoveryOpener(ctx, authority.recoveryPrivateKey)
  const begun = await begin(ctx, authority)
  const { fromVersion, toVersion } = begun
  const partial = (resealed: number) => ({
    ...begun,
    resealed,
    finished: false,
    retired: NOTHING_RETIRED,
  })

  let resealed = 0
  try {
    for (;;) {
      const target = await findEmergencyKeyVersion(ctx.db, toVersion)
      if (!target)
        throw new IntegrityError(
          `emergency key version ${toVersion} disappeared during its rotation`,
        )
      // Before anything is sealed to it: a public key swapped in by raw SQL.
      requirePinned(ctx, target)
      const total = resealed + (await countPatientsNotSealedTo(ctx.db, toVersion))
      let after: Buffer = Buffer.alloc(16)
      for (;;) {
        const batch = await listPatientsNotSealedTo(ctx.db, toVersion, after, BATCH)
        if (batch.length === 0) break
        after = batch[batch.length - 1]!
        let next = 0
        let failed = false
        const worker = async () => {
          while (next < batch.length && !signal?.aborted && !failed) {
            const patientId = batch[next++]!
            try {
              if (await resealOne(ctx, patientId, toVersion, open)) resealed++
              onProgress?.({ resealed, total })
            } catch (err) {
              failed = true // the other workers stop after their current patient
              throw err
            }
          }
        }
        // Every worker ends before the call returns or throws: none may still be
        // committing when the caller looks at (or resumes) the rotation.
        const ends = await Promise.allSettled(
          Array.from({ length: CONCURRENT_PATIENTS }, worker),
        )
        const failure = ends.find((e) => e.status === 'rejected')
        if (failure) throw failure.reason
        if (signal?.aborted) return partial(resealed)
      }
      if (signal?.aborted) return partial(resealed)
      try {
        const retired = await finish(ctx, authority, fromVersion, toVersion)
        return { ...begun, resealed, finished: true, retired }
      } catch (err) {
        if (!(err instanceof NotAllResealed)) throw err
      }
    }
  } catch (err) {
    // Start and finish record their own failures (auditedTransaction); a run
    // stopped in between by an integrity failure says so in the trail too.
    if (err instanceof IntegrityError) {
      await inTransaction(ctx.db, (trx) =>
        appendAudit(trx, ctx.auditKey, {
          actorUserId: authority.admin.userIdBytes,
          action: 'emergency.rotate',
          outcome: 'failure',
          detail: `reseal v${fromVersion}->v${toVersion}: integrity`,
        }),
      ).catch(() => undefined)
    }
    throw err
  }
}

interface Begun {
  readonly fromVersion: number
  readonly toVersion: number
  readonly resumed: boolean
  readonly holders: number
}

/** Step 1, or the versions of the rotation already under way. */
async function begin(ctx: VaultContext, authority: RecoveryCredentials): Promise<Begun> {
  const stored = await listEmergencyKeys(ctx.db)
  if (stored.length === 0)
    throw new ConfigurationError('no emergency key: set up emergency access first')
  if (stored.length > 1) {
    const current = stored[stored.length - 1]!
    await requireNotRolledBack(ctx.db, current)
    return {
      fromVersion: stored[0]!.version,
      toVersion: current.version,
      resumed: true,
      holders: 0,
    }
  }
  const from = stored[0]!.version
  if (from >= MAX_EMERGENCY_KEY_VERSION)
    throw new ConfigurationError('the emergency key is at its last version')
  const to = from + 1
  const act = {
    actorUserId: authority.admin.userIdBytes,
    action: 'emergency.rotate',
    detail: `start v${from}->v${to}`,
  } as const
  const pair = generateUserKeyPair()
  try {
    return await auditedTransaction(ctx, act, async (trx) => {
      const keys = await listEmergencyKeys(trx, true)
      if (keys.length !== 1 || keys[0]!.version !== from)
        throw new ConfigurationError(
          'another administrator changed the emergency key meanwhile: run the rotation again',
        )
      const current = keys[0]!
      // A v1 key made before pins is pinned here if the recovery key proves it.
      await pinWithRecovery(ctx, trx, current, authority.recoveryPrivateKey)
      await requireNotRolledBack(trx, current)
      const holders = (await listEmergencyKeyHolders(trx, from)).filter(
        (h) => h.disabled_at === null && h.roles.split(',').includes('emergency'),
      )
      requireCertifiedKeys(ctx, holders)
      await insertEmergencyKey(trx, {
        version: to,
        public_key: pair.publicKey,
        public_key_mac: emergencyKeyPin(ctx.auditKey, {
          version: to,
          publicKey: pair.publicKey,
        }),
        recovery_sealed_private_key: await sealPatientKey(
          pair.privateKey,
          ctx.recoveryPublicKey,
          emergencyPrivateKeyContext(to, recoveryRecipientId(ctx.recoveryFingerprint)),
        ),
        created_by: authority.admin.userIdBytes,
      })
      const copies = await Promise.all(
        holders.map((h) =>
          sealPatientKey(
            pair.privateKey,
            h.public_key,
            emergencyPrivateKeyContext(to, rowIdToString(h.id)),
          ),
        ),
      )
      for (const [i, h] of holders.entries()) {
        await upsertEmergencyKeyHolder(trx, {
          user_id: h.id,
          emergency_key_version: to,
          sealed_private_key: copies[i]!,
          granted_by: authority.admin.userIdBytes,
        })
      }
      return { fromVersion: from, toVersion: to, resumed: false, holders: holders.length }
    })
  } finally {
    wipe(pair.privateKey)
  }
}

/**
 * Step 2 for one patient, in its own transaction: true if it was re-sealed,
 * false if there was nothing to do (already under the new key, or gone).
 */
async function resealOne(
  ctx: VaultContext,
  patientId: Buffer,
  to: number,
  open: PatientKeyOpener,
): Promise<boolean> {
  return inTransaction(ctx.db, async (trx) => {
    // The patient row lock orders this against a rotation of the patient's own
    // key, a break-glass of it, and another run re-sealing it.
    const version = await lockPatientKeyVersion(trx, patientId)
    if (version === undefined) return false
    const seal = await findEmergencySeal(trx, patientId, version)
    if (seal?.emergency_key_version === to) return false
    const key = await findEmergencyKeyVersion(trx, to)
    if (!key)
      throw new IntegrityError(
        `emergency key version ${to} disappeared during its rotation`,
      )
    const patientKey = await open(trx, patientId, version)
    try {
      const row = await emergencySealOf(ctx, key, patientId, version, patientKey)
      if (seal) await replaceEmergencySeal(trx, row)
      else await insertEmergencySeal(trx, row)
    } finally {
      wipe(patientKey)
    }
    return true
  })
}

/** Step 3: every wrap of the old versions destroyed, once nothing is left under them. */
async function finish(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  from: number,
  to: number,
): Promise<RetiredEmergencyMaterial> {
  const act = {
    actorUserId: authority.admin.userIdBytes,
    action: 'emergency.rotate',
    detail: `finish v${from}->v${to}`,
  } as const
  return auditedTransaction(ctx, act, async (trx) => {
    // Locked first: a seal under the old key inserted from now on waits on its
    // foreign key's parent row, then fails once it is gone (never lands).
    const keys = await listEmergencyKeys(trx, true)
    if (keys[keys.length - 1]?.version !== to)
      throw new IntegrityError(
        `the emergency key changed during its rotation to version ${to}`,
      )
    if ((await countPatientsNotSealedTo(trx, to)) > 0) throw new NotAllResealed()
    return deleteEmergencyVersionsBelow(trx, to)
  })
}
