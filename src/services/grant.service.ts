import { wipe } from '../crypto/bytes.js'
import { sealPatientKey } from '../crypto/patient-key-seal.js'
import { rowIdFromString, rowIdToString } from '../db/row-id.js'
import { NotFoundError, ValidationError } from '../errors/index.js'
import {
  deleteGrant,
  findCurrentGrant,
  insertGrant,
  listGrantedPatientIds,
  listGrantees,
  lockPatientKeyVersion,
} from '../repositories/patient-key.repository.js'
import { findUserById } from '../repositories/user.repository.js'
import type { AccessEntry } from './domain.js'
import { auditedTransaction } from './audited.js'
import { openGrant, requireGrant, requireLastingGrant } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import { requireCertifiedKeys } from './user-key-check.js'
import type { VaultContext } from './vault-context.js'

/**
 * Grants a patient to another user: the granter opens the patient key with their
 * own grant and seals it to the grantee's public key (docs/concepts.md). Granting
 * twice is a no-op that reports `created: false`.
 */
export async function grantPatient(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  granteeUserId: string,
): Promise<{ created: boolean }> {
  const pid = rowIdFromString(patientId, 'patientId')
  const gid = rowIdFromString(granteeUserId, 'granteeUserId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'grant',
    patientId: pid,
    targetUserId: gid,
  } as const
  return auditedTransaction(
    ctx,
    act,
    async (trx) => {
      // The patient row first, exclusively (the lock order of revoke and rotation:
      // patient row, then grants, audit head last). It serialises grants of one
      // patient: with only the shared lock of requireGrant, two users granting the
      // same grantee at once both found no grant and the second INSERT failed with
      // ER_DUP_ENTRY instead of reporting `created: false` (found by the
      // concurrency soak). It also holds off a rotation, so the grant is sealed
      // for the current version; the grant check below reads after the lock.
      await lockPatientKeyVersion(trx, pid)
      const own = requireLastingGrant(await requireGrant(trx, session, pid, true))
      const grantee = await findUserById(trx, gid)
      if (!grantee) throw new NotFoundError('user', granteeUserId)
      if (grantee.disabled_at !== null) {
        throw new ValidationError('granteeUserId', 'names a disabled user')
      }
      if (await findCurrentGrant(trx, pid, gid)) return { created: false }
      // Before the patient key is even opened: a key swapped into `users` by a
      // database writer is never sealed to.
      requireCertifiedKeys(ctx, [grantee])
      const patientKey = await openGrant(session, own)
      try {
        const sealed = await sealPatientKey(patientKey, grantee.public_key, {
          patientId: rowIdToString(pid),
          keyVersion: own.key_version,
          recipientId: rowIdToString(gid),
        })
        // A row left under this key is an expired break-glass grant: replace it.
        await deleteGrant(trx, pid, own.key_version, gid)
        await insertGrant(trx, {
          patient_id: pid,
          key_version: own.key_version,
          user_id: gid,
          sealed_key: sealed,
          granted_by: session.userIdBytes,
        })
      } finally {
        wipe(patientKey)
      }
      return { created: true }
    },
    (r) => (r.created ? {} : { detail: 'already granted' }),
  )
}

export async function listAccess(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
): Promise<AccessEntry[]> {
  const pid = rowIdFromString(patientId, 'patientId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'access.list',
    patientId: pid,
  } as const
  const rows = await auditedTransaction(ctx, act, async (trx) => {
    await requireGrant(trx, session, pid)
    return listGrantees(trx, pid)
  })
  return rows.map((r) => ({
    userId: rowIdToString(r.user_id),
    username: r.username,
    displayName: r.display_name,
    grantedBy: rowIdToString(r.granted_by),
    grantedAt: r.granted_at,
  }))
}

export async function listAccessiblePatients(
  ctx: VaultContext,
  session: UnlockedUser,
): Promise<string[]> {
  session.privateKey()
  const ids = await listGrantedPatientIds(ctx.db, session.userIdBytes)
  return ids.map(rowIdToString)
}
