import { wipe } from '../crypto/bytes.js'
import type { ChartRow } from '../crypto/chart-state.js'
import { generatePatientKey } from '../crypto/patient-key.js'
import { sealPatientKey, type SealContext } from '../crypto/patient-key-seal.js'
import { rowIdFromString, rowIdToString } from '../db/row-id.js'
import { IntegrityError, NotFoundError } from '../errors/index.js'
import {
  findUnverifiedRows,
  resealRows,
} from '../repositories/reencryption.repository.js'
import {
  deleteSealsOfVersion,
  deleteGrant,
  insertGrants,
  insertKeyVersion,
  insertRecoverySeal,
  listGrantsWithKeys,
  lockPatientKeyVersion,
  switchKeyVersion,
} from '../repositories/patient-key.repository.js'
import { selectChartRows } from '../repositories/chart-state.repository.js'
import type { Executor } from '../sql/prepared.js'
import { sealToEmergencyKey } from './break-glass.service.js'
import { grantOpener, recoveryOpener, type PatientKeyOpener } from './key-openers.js'
import type { RecoveryCredentials } from './recovery.service.js'
import {
  countPatientsKeyedBefore,
  countRotated,
  findOpenRun,
  finishRun,
  listPatientsKeyedBefore,
  startRun,
} from '../repositories/rotation-run.repository.js'
import { fieldKeysFor, lockPatientRow } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import { auditedTransaction } from './audited.js'
import { readChartRows, trackChartChange } from './chart-state.service.js'
import { requireFields } from './require-object.js'
import { requireRole } from './roles.js'
import { rotationTables } from './table-registry.js'
import { requireCertifiedKeys } from './user-key-check.js'
import { inTransaction } from './transaction.js'
import { recoveryRecipientId, type VaultContext } from './vault-context.js'

/** Rows re-encrypted per UPDATE statement. */
const RESEAL_BATCH_ROWS = 250

/**
 * HPKE seals in flight at once during a rotation: enough to keep both cores and
 * libuv's pool busy, few enough not to queue a concurrent login's bcrypt and
 * scrypt behind hundreds of seals.
 */
const SEAL_CONCURRENCY = 16

/** Seals `key` to each recipient, SEAL_CONCURRENCY at a time; results in order. */
async function sealAll(
  key: Buffer,
  recipients: readonly { publicKey: Buffer; context: SealContext }[],
): Promise<Buffer[]> {
  const sealed: Buffer[] = []
  for (let at = 0; at < recipients.length; at += SEAL_CONCURRENCY) {
    sealed.push(
      ...(await Promise.all(
        recipients
          .slice(at, at + SEAL_CONCURRENCY)
          .map((r) => sealPatientKey(key, r.publicKey, r.context)),
      )),
    )
  }
  return sealed
}

export interface RotationResult {
  readonly fromVersion: number
  readonly toVersion: number
  /** Rows whose envelopes were re-encrypted. */
  readonly rows: number
}

/**
 * Rotates a patient's key inside the caller's transaction:
 * a new key version; every envelope of the patient verified under the old key,
 * then re-encrypted inside SQL under the new one; the new key sealed to every
 * remaining grantee and to the recovery key; the old version's grants and seal
 * deleted. A failed tag stops it before anything is written.
 */
export async function rotateWithin(
  trx: Executor,
  ctx: VaultContext,
  patientId: Buffer,
  opener: PatientKeyOpener,
  actor: Buffer,
  checkedCatalogs?: Set<string>,
): Promise<RotationResult> {
  const id = rowIdToString(patientId)
  const from = await lockPatientKeyVersion(trx, patientId)
  if (from === undefined) throw new NotFoundError('patient', id)
  const to = from + 1
  const oldKey = await opener(trx, patientId, from)
  const newKey = generatePatientKey()
  const oldFieldKeys = fieldKeysFor(oldKey, from)
  const newFieldKeys = fieldKeysFor(newKey, to)
  try {
    // Every remaining grantee's certificate before any row is re-encrypted or
    // anything sealed: one failure refuses the whole rotation, nothing written
    // (docs/concepts.md, "Certified public keys"). After the opener, which is
    // the access check: a caller without a grant learns nothing about the
    // grantees. A revoke of that grantee still goes through: their grant is
    // deleted before this list is read.
    const grants = await listGrantsWithKeys(trx, patientId, from)
    requireCertifiedKeys(
      ctx,
      grants.map((g) => ({ ...g, id: g.user_id })),
    )
    const tables = await rotationTables(trx, ctx, checkedCatalogs)
    const rowIds: Buffer[][] = []
    const before: ChartRow[] = []
    for (const spec of tables) {
      // Locked FOR UPDATE, so nothing is written under the old key meanwhile; the
      // IVs they hold now are what the chart state moves from.
      const locked = await selectChartRows(trx, spec, patientId, { forUpdate: true })
      before.push(...locked)
      const ids = locked.map((row) => row.rowId)
      const bad = await findUnverifiedRows(trx, spec, patientId, oldFieldKeys)
      if (bad.length > 0) {
        throw new IntegrityError(
          `${spec.table} row ${rowIdToString(bad[0]!)} of patient ${id} failed its integrity check; ` +
            'rotation stopped before writing',
        )
      }
      rowIds.push(ids)
    }
    let rows = 0
    for (const [i, spec] of tables.entries()) {
      const ids = rowIds[i]!
      for (let at = 0; at < ids.length; at += RESEAL_BATCH_ROWS) {
        rows += await resealRows(
          trx,
          spec,
          patientId,
          ids.slice(at, at + RESEAL_BATCH_ROWS),
          oldFieldKeys,
          newFieldKeys,
        )
      }
    }

    // Every envelope has a new IV now. A state already failing its MAC is left
    // failing: a revoke must go through whatever was done to the chart.
    const after = await readChartRows(trx, tables, patientId, true)
    await trackChartChange(trx, ctx.auditKey, patientId, before, after, {
      keepTampered: true,
    })

    await insertKeyVersion(trx, patientId, to, actor)
    // The new key sealed to every remaining grantee and to the recovery key. The
    // seals are independent, so they run SEAL_CONCURRENCY at a time (WebCrypto
    // works off the event loop), and the grants go in multi-row INSERTs: sealing
    // and inserting one grant after the other made a patient shared with 1,000
    // users take 1.4–2 s to rotate or revoke here (npm run bench, "rotate the key
    // of a patient with 1,000 grantees").
    const [grantSeals, recoverySeal] = await Promise.all([
      sealAll(
        newKey,
        grants.map((grant) => ({
          publicKey: grant.public_key,
          context: {
            patientId: id,
            keyVersion: to,
            recipientId: rowIdToString(grant.user_id),
          },
        })),
      ),
      sealPatientKey(newKey, ctx.recoveryPublicKey, {
        patientId: id,
        keyVersion: to,
        recipientId: recoveryRecipientId(ctx.recoveryFingerprint),
      }),
    ])
    await insertGrants(
      trx,
      grants.map((grant, i) => ({
        patient_id: patientId,
        key_version: to,
        user_id: grant.user_id,
        sealed_key: grantSeals[i]!,
        granted_by: grant.granted_by,
        expires_at: grant.expires_at,
      })),
    )
    await insertRecoverySeal(trx, {
      patient_id: patientId,
      key_version: to,
      recovery_key_fingerprint: ctx.recoveryFingerprint,
      sealed_key: recoverySeal,
    })
    await sealToEmergencyKey(trx, ctx, patientId, to, newKey)
    await deleteSealsOfVersion(trx, patientId, from)
    await switchKeyVersion(trx, patientId, from, to)
    return { fromVersion: from, toVersion: to, rows }
  } finally {
    wipe(oldKey, newKey, oldFieldKeys.enc, oldFieldKeys.inner, oldFieldKeys.outer)
    wipe(newFieldKeys.enc, newFieldKeys.inner, newFieldKeys.outer)
  }
}

/** A holder of the patient's grant rotates its key (e.g. after a suspected leak). */
export async function rotatePatientKey(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
): Promise<RotationResult> {
  const pid = rowIdFromString(patientId, 'patientId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'rotate',
    patientId: pid,
  } as const
  return auditedTransaction(
    ctx,
    act,
    async (trx) => {
      // Locked here as well as in rotateWithin, which would answer an id of no
      // patient NOT_FOUND: to a session that is an id it may not probe.
      await lockPatientRow(trx, pid)
      return rotateWithin(trx, ctx, pid, grantOpener(session), session.userIdBytes)
    },
    (r) => ({ detail: `v${r.fromVersion}->v${r.toVersion}` }),
  )
}

/**
 * Revokes a user's access: deletes their grant and rotates the patient key in the
 * same transaction, so a key they may have cached opens nothing written or
 * re-encrypted afterwards.
 */
export async function revokeAccess(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  userId: string,
): Promise<RotationResult> {
  const pid = rowIdFromString(patientId, 'patientId')
  const uid = rowIdFromString(userId, 'userId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'revoke',
    patientId: pid,
    targetUserId: uid,
  } as const
  return auditedTransaction(
    ctx,
    act,
    async (trx) => {
      const current = await lockPatientRow(trx, pid)
      // Our own grant first: it is the access check, and it must be opened before
      // it could be the one deleted (a user may revoke themselves).
      const ownKey = await grantOpener(session)(trx, pid, current)
      try {
        // The grant of the current version only, by its primary key (no gap locks:
        // see deleteGrant). No other version holds grants: every rotation deletes
        // the old version's in its own transaction, as rotateWithin does below.
        // Found whether or not the user is disabled: disabling someone must not
        // keep their grant out of reach of a revoke.
        if ((await deleteGrant(trx, pid, current, uid)) === 0) {
          throw new NotFoundError('grant', `${patientId}/${userId}`)
        }
        const keep: PatientKeyOpener = async () => Buffer.from(ownKey)
        return await rotateWithin(trx, ctx, pid, keep, session.userIdBytes)
      } finally {
        wipe(ownKey)
      }
    },
    (r) => ({ detail: `v${r.fromVersion}->v${r.toVersion}` }),
  )
}

export interface RotateAllResult {
  readonly rotated: number
  /** True when an unfinished earlier run was picked up. */
  readonly resumed: boolean
  /** False when stopped by `signal` or when some patients failed (the run stays open). */
  readonly finished: boolean
  /** Patients left unrotated because a value or seal failed its integrity check. */
  readonly failed: readonly string[]
}

export interface RotateAllProgress {
  readonly rotated: number
  readonly total: number
}

/**
 * Rotates every patient's key with the recovery key (a scheduled policy, or after
 * an incident). One transaction per patient, so a crash half-way leaves every
 * patient readable; calling it again resumes the unfinished run with its cutoff
 * and finishes the rest. `signal` stops it cleanly between two patients.
 */
export async function rotateAll(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  options: { onProgress?: (p: RotateAllProgress) => void; signal?: AbortSignal } = {},
): Promise<RotateAllResult> {
  const { admin } = authority
  const { onProgress, signal } = requireFields<typeof options>(options, 'options', [
    'onProgress',
    'signal',
  ])
  await requireRole(ctx.db, admin, 'admin', 'rotate-all')
  const opener = recoveryOpener(ctx, authority.recoveryPrivateKey)
  const { run, resumed } = await inTransaction(ctx.db, async (trx) => {
    const open = await findOpenRun(trx)
    if (open) return { run: open, resumed: true }
    await startRun(trx, admin.userIdBytes)
    return { run: (await findOpenRun(trx))!, resumed: false }
  })
  const total = await countPatientsKeyedBefore(ctx.db, run.cutoff)
  // The catalog is checked against the schema once per run (and again if it changes).
  const checkedCatalogs = new Set<string>()
  let rotated = 0
  const failed: string[] = []
  let after: Buffer = Buffer.alloc(16)
  for (;;) {
    const batch = await listPatientsKeyedBefore(ctx.db, run.cutoff, after, 100)
    if (batch.length === 0) break
    for (const patientId of batch) {
      if (signal?.aborted) return { rotated, resumed, finished: false, failed }
      after = patientId
      try {
        const act = {
          actorUserId: admin.userIdBytes,
          action: 'rotate',
          patientId,
        } as const
        await auditedTransaction(
          ctx,
          act,
          async (trx) => {
            const result = await rotateWithin(
              trx,
              ctx,
              patientId,
              opener,
              admin.userIdBytes,
              checkedCatalogs,
            )
            await countRotated(trx, run.id)
            return result
          },
          (r) => ({
            detail: `rotate-all run ${run.id}: v${r.fromVersion}->v${r.toVersion}`,
          }),
        )
        rotated++
      } catch (err) {
        // A patient that cannot be rotated (a tampered value, a missing seal) is
        // reported and left as it is; the run stays open so a later call retries it.
        if (!(err instanceof IntegrityError)) throw err
        failed.push(rowIdToString(patientId))
      }
      onProgress?.({ rotated, total })
    }
  }
  if (failed.length === 0) await inTransaction(ctx.db, (trx) => finishRun(trx, run.id))
  return { rotated, resumed, finished: failed.length === 0, failed }
}
