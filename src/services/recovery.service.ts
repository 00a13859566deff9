import { wipe } from '../crypto/bytes.js'
import { generateUserKeyPair } from '../crypto/keypair.js'
import { sealPatientKey } from '../crypto/patient-key-seal.js'
import { rowIdFromString, rowIdToString } from '../db/row-id.js'
import { IntegrityError, NotFoundError, ValidationError } from '../errors/index.js'
import {
  deleteGrant,
  findCurrentGrant,
  insertGrant,
  listCurrentGrantsOfUser,
  lockPatientKeyVersion,
  replaceGrantSeal,
} from '../repositories/patient-key.repository.js'
import {
  findUserById,
  findUserByUsername,
  replaceUserKeyPair,
} from '../repositories/user.repository.js'
import { recoveryOpener } from './key-openers.js'
import type { UnlockedUser } from './unlocked-user.js'
import { auditedTransaction } from './audited.js'
import { requireRole } from './roles.js'
import { checkPassword, credentialsFor } from './user.service.js'
import { certifyPublicKey, requireCertifiedKeys } from './user-key-check.js'
import type { VaultContext } from './vault-context.js'

/**
 * Who acts and with what: an administrator's unlocked user and the offline
 * recovery private key (what the vault makes of a RecoveryAuthority).
 */
export interface RecoveryCredentials {
  readonly admin: UnlockedUser
  /** Read by the operator from the recovery key file; never stored in the database. */
  readonly recoveryPrivateKey: Buffer
}

/**
 * Forgotten password (docs/concepts.md): the user gets a new key pair and the new
 * password; every patient they held a current grant for is re-granted to the new
 * public key from the patient's recovery seal. One transaction.
 * Returns how many patients were re-granted.
 */
export async function recoverUser(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  username: string,
  newPassword: string,
): Promise<{ patients: number }> {
  await requireRole(ctx.db, authority.admin, 'admin', 'recovery')
  const open = recoveryOpener(ctx, authority.recoveryPrivateKey)
  const password = checkPassword(newPassword, 'newPassword')
  const user = await findUserByUsername(ctx.db, username)
  if (!user) throw new NotFoundError('user', String(username))
  const userId = rowIdToString(user.id)
  const { publicKey, privateKey } = generateUserKeyPair()
  try {
    const credentials = await credentialsFor(password, privateKey, userId, ctx.kdfPolicy)
    const act = {
      actorUserId: authority.admin.userIdBytes,
      action: 'recovery.regrant',
      targetUserId: user.id,
    } as const
    return await auditedTransaction(
      ctx,
      act,
      async (trx) => {
        const grants = await listCurrentGrantsOfUser(trx, user.id)
        for (const grant of grants) {
          const patientKey = await open(trx, grant.patient_id, grant.key_version)
          try {
            const sealed = await sealPatientKey(patientKey, publicKey, {
              patientId: rowIdToString(grant.patient_id),
              keyVersion: grant.key_version,
              recipientId: userId,
            })
            await replaceGrantSeal(trx, grant, sealed, authority.admin.userIdBytes)
          } finally {
            wipe(patientKey)
          }
        }
        // A new key version with its certificate: the old key's certificate
        // cannot be put back beside it. Refused if the row moved on meanwhile.
        const version = user.public_key_version + 1
        const key = {
          publicKey,
          version,
          certificate: certifyPublicKey(ctx, user.id, version, publicKey),
        }
        if (!(await replaceUserKeyPair(trx, user.id, key, credentials))) {
          throw new IntegrityError(
            `user ${userId} changed during the recovery (a concurrent password change); try again`,
          )
        }
        return { patients: grants.length }
      },
      (r) => ({ detail: `patients=${r.patients}` }),
    )
  } finally {
    wipe(privateKey)
  }
}

/**
 * Restores access to a patient whose grantees are all gone (or adds any user):
 * the patient key is opened from its recovery seal and sealed to the user.
 */
export async function restorePatientAccess(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  patientId: string,
  userId: string,
): Promise<{ created: boolean }> {
  await requireRole(ctx.db, authority.admin, 'admin', 'recovery')
  const open = recoveryOpener(ctx, authority.recoveryPrivateKey)
  const pid = rowIdFromString(patientId, 'patientId')
  const uid = rowIdFromString(userId, 'userId')
  const act = {
    actorUserId: authority.admin.userIdBytes,
    action: 'recovery.restore',
    patientId: pid,
    targetUserId: uid,
  } as const
  return auditedTransaction(ctx, act, async (trx) => {
    const version = await lockPatientKeyVersion(trx, pid)
    if (version === undefined) throw new NotFoundError('patient', patientId)
    const user = await findUserById(trx, uid)
    if (!user) throw new NotFoundError('user', userId)
    if (user.disabled_at !== null)
      throw new ValidationError('userId', 'names a disabled user')
    if (await findCurrentGrant(trx, pid, uid)) return { created: false }
    requireCertifiedKeys(ctx, [user])
    const patientKey = await open(trx, pid, version)
    try {
      // A row left under this key is an expired break-glass grant: replace it.
      await deleteGrant(trx, pid, version, uid)
      await insertGrant(trx, {
        patient_id: pid,
        key_version: version,
        user_id: uid,
        // Ids as the openers rebuild them (lower-case), never the caller's spelling.
        sealed_key: await sealPatientKey(patientKey, user.public_key, {
          patientId: rowIdToString(pid),
          keyVersion: version,
          recipientId: rowIdToString(uid),
        }),
        granted_by: authority.admin.userIdBytes,
      })
    } finally {
      wipe(patientKey)
    }
    return { created: true }
  })
}
