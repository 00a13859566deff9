import { wipe } from '../crypto/bytes.js'
import { isBelowPolicy, type KdfPolicy, type ScryptParams } from '../crypto/kdf-policy.js'
import { deriveKek, newKdfSalt } from '../crypto/kek.js'
import { generateUserKeyPair, x25519PublicKeyOf } from '../crypto/keypair.js'
import {
  bcryptCostOf,
  checkPasswordVerifier,
  hashPasswordVerifier,
} from '../crypto/password-verifier.js'
import { normalizePassword } from '../crypto/password.js'
import { openPatientKey, sealPatientKey } from '../crypto/patient-key-seal.js'
import { unwrapPrivateKey, wrapPrivateKey } from '../crypto/private-key-wrap.js'
import {
  listCurrentGrantsOfUser,
  replaceGrantSeal,
} from '../repositories/patient-key.repository.js'
import { newRowId, rowIdFromString, rowIdToString } from '../db/row-id.js'
import {
  AuthenticationError,
  DatabaseError,
  IntegrityError,
  NotFoundError,
  ValidationError,
} from '../errors/index.js'
import type { UserCredentialColumns, UserRow } from '../repositories/user.row.js'
import {
  findUserByUsername,
  insertUser,
  listUsers as listUserRows,
  replaceUserCredentials,
  replaceUserKeyPair,
  setUserDisabled,
} from '../repositories/user.repository.js'
import { asIntegrityError, asValidationError } from './crypto-errors.js'
import { appendAudit } from './audit.service.js'
import { auditedTransaction } from './audited.js'
import { requireRole } from './roles.js'
import { inTransaction } from './transaction.js'
import { ROLES, type NewUser, type Role, type UserSummary } from './domain.js'
import { requireFields, requireWellFormed } from './require-object.js'
import { UnlockedUser } from './unlocked-user.js'
import { certifyPublicKey } from './user-key-check.js'
import type { VaultContext } from './vault-context.js'

const USERNAME = /^[a-z0-9][a-z0-9._-]{2,63}$/

export function checkUsername(value: unknown): string {
  if (typeof value !== 'string' || !USERNAME.test(value)) {
    throw new ValidationError(
      'username',
      'must be 3–64 of a-z 0-9 . _ - (lower case, starting with a letter or digit)',
    )
  }
  return value
}

/** The password rules (string, NFKC, ≤ 72 UTF-8 bytes) as a ValidationError. */
export function checkPassword(value: unknown, field: string): string {
  try {
    wipe(normalizePassword(value))
  } catch (err) {
    throw asValidationError(err, field)
  }
  return value as string
}

function checkRoles(value: unknown): Role[] {
  if (value === undefined) return ['clinician']
  if (!Array.isArray(value) || value.some((r) => !ROLES.includes(r as Role))) {
    throw new ValidationError('roles', `must be a list of ${ROLES.join(', ')}`)
  }
  return [...new Set(value as Role[])]
}

function summary(row: UserRow): UserSummary {
  return {
    id: rowIdToString(row.id),
    username: row.username,
    displayName: row.display_name,
    roles: row.roles === '' ? [] : (row.roles.split(',') as Role[]),
    disabled: row.disabled_at !== null,
  }
}

function storedScrypt(row: UserRow): ScryptParams {
  return { N: 2 ** row.kdf_log_n, r: row.kdf_r, p: row.kdf_p }
}

/** New verifier, salt, KEK parameters and wrapped private key for `password` under `policy`. */
export async function credentialsFor(
  password: string,
  privateKey: Buffer,
  userId: string,
  policy: KdfPolicy,
): Promise<UserCredentialColumns> {
  const salt = newKdfSalt()
  const [verifier, kek] = await Promise.all([
    hashPasswordVerifier(password, policy.bcryptCost),
    deriveKek(password, salt, policy.scrypt),
  ])
  try {
    return {
      password_verifier: verifier,
      kdf_salt: salt,
      kdf_log_n: Math.log2(policy.scrypt.N),
      kdf_r: policy.scrypt.r,
      kdf_p: policy.scrypt.p,
      wrapped_private_key: wrapPrivateKey(privateKey, kek, userId),
    }
  } finally {
    wipe(kek)
  }
}

/**
 * The acting administrator of a user-management act, checked and recorded in
 * the audit row; without one the act is recorded with no actor (self-service
 * or bootstrap, as the application decides).
 */
async function adminActor(
  ctx: VaultContext,
  admin: UnlockedUser | undefined,
): Promise<Buffer | null> {
  if (!admin) return null
  await requireRole(ctx.db, admin, 'admin', 'managing users')
  return admin.userIdBytes
}

const NEW_USER_FIELDS = ['username', 'displayName', 'password', 'roles'] as const

export async function registerUser(
  ctx: VaultContext,
  input: NewUser,
  admin?: UnlockedUser,
): Promise<UserSummary> {
  const actorUserId = await adminActor(ctx, admin)
  const fields = requireFields(input, 'user', NEW_USER_FIELDS)
  const username = checkUsername(fields['username'])
  const displayName = fields['displayName']
  if (
    typeof displayName !== 'string' ||
    displayName.trim() === '' ||
    displayName.length > 200
  ) {
    throw new ValidationError(
      'displayName',
      'must be a non-empty string of at most 200 characters',
    )
  }
  requireWellFormed(displayName, 'displayName')
  const password = checkPassword(fields['password'], 'password')
  const roles = checkRoles(fields['roles'])
  const id = newRowId()
  const userId = rowIdToString(id)
  const { publicKey, privateKey } = generateUserKeyPair()
  try {
    const credentials = await credentialsFor(password, privateKey, userId, ctx.kdfPolicy)
    const row = {
      id,
      username,
      display_name: displayName,
      roles: roles.join(','),
      public_key: publicKey,
      public_key_version: 1,
      public_key_certificate: certifyPublicKey(ctx, id, 1, publicKey),
      ...credentials,
    }
    await auditedTransaction(
      ctx,
      { actorUserId, action: 'user.register', targetUserId: id },
      (trx) => insertUser(trx, row),
    )
    return summary({ ...row, disabled_at: null } as UserRow)
  } catch (err) {
    if (err instanceof DatabaseError && err.driverCode === 'ER_DUP_ENTRY') {
      throw new ValidationError('username', 'is already taken')
    }
    throw err
  } finally {
    wipe(privateKey)
  }
}

/** A verifier to compare against when the user does not exist, so both cases cost the same. */
const dummyVerifiers = new Map<number, Promise<string>>()
function dummyVerifier(cost: number): Promise<string> {
  let hash = dummyVerifiers.get(cost)
  if (!hash) {
    hash = hashPasswordVerifier('not a password of anyone', cost)
    dummyVerifiers.set(cost, hash)
  }
  return hash
}

/** A refused login of a known user, in its own transaction (the caller's act failed). */
async function recordRefusedLogin(
  ctx: VaultContext,
  userId: Buffer | null,
  detail: string,
): Promise<void> {
  await inTransaction(ctx.db, (trx) =>
    appendAudit(trx, ctx.auditKey, {
      actorUserId: userId,
      action: 'user.login',
      outcome: 'denied',
      detail,
    }),
  )
}

/**
 * Checks the password and opens the private key. bcrypt and scrypt run at the
 * same time on libuv's pool; the KEK is wiped before returning. Unknown user,
 * wrong password and disabled account give the same AuthenticationError.
 */
async function unlock(
  ctx: VaultContext,
  username: unknown,
  password: unknown,
): Promise<{ row: UserRow; privateKey: Buffer }> {
  const pw = checkPassword(password, 'password')
  const row =
    typeof username === 'string' && USERNAME.test(username)
      ? await findUserByUsername(ctx.db, username)
      : undefined
  if (!row) {
    // The same work as for a known user (bcrypt and scrypt at once, an audit
    // row), so the time taken does not tell which usernames exist.
    const [, dummyKek] = await Promise.all([
      checkPasswordVerifier(pw, await dummyVerifier(ctx.kdfPolicy.bcryptCost)),
      deriveKek(pw, newKdfSalt(), ctx.kdfPolicy.scrypt),
    ])
    wipe(dummyKek)
    await recordRefusedLogin(ctx, null, 'unknown user')
    throw new AuthenticationError()
  }
  const [verified, kek] = await Promise.all([
    checkPasswordVerifier(pw, row.password_verifier),
    deriveKek(pw, row.kdf_salt, storedScrypt(row)),
  ])
  try {
    if (!verified || row.disabled_at !== null) {
      await recordRefusedLogin(ctx, row.id, verified ? 'disabled' : 'wrong password')
      throw new AuthenticationError()
    }
    let privateKey: Buffer
    try {
      privateKey = unwrapPrivateKey(row.wrapped_private_key, kek, rowIdToString(row.id))
    } catch (err) {
      throw asIntegrityError(err, `private key of user ${row.username}`)
    }
    // The stored public key must belong to this private key (a swapped public key
    // would make grants to this user unreadable or readable by someone else).
    if (!x25519PublicKeyOf(privateKey).equals(row.public_key)) {
      wipe(privateKey)
      throw new IntegrityError(
        `public key of user ${row.username} does not match its private key`,
      )
    }
    return { row, privateKey }
  } finally {
    wipe(kek)
  }
}

/**
 * After a successful unlock: if the stored scrypt or bcrypt parameters are below
 * the current policy, re-derive and re-wrap with the current ones (same private
 * key, new salt). Skipped without error if a concurrent change won.
 */
async function upgradedCredentials(
  ctx: VaultContext,
  row: UserRow,
  password: string,
  privateKey: Buffer,
): Promise<UserCredentialColumns | undefined> {
  const stored = {
    scrypt: storedScrypt(row),
    bcryptCost: bcryptCostOf(row.password_verifier),
  }
  if (!isBelowPolicy(stored, ctx.kdfPolicy)) return undefined
  return credentialsFor(password, privateKey, rowIdToString(row.id), ctx.kdfPolicy)
}

/** Logs in: the user unlocked, holding their private key. */
export async function login(
  ctx: VaultContext,
  username: string,
  password: string,
): Promise<UnlockedUser> {
  const { row, privateKey } = await unlock(ctx, username, password)
  try {
    const upgrade = await upgradedCredentials(ctx, row, password, privateKey)
    await auditedTransaction(
      ctx,
      { actorUserId: row.id, action: 'user.login' },
      async (trx) => {
        if (
          upgrade &&
          (await replaceUserCredentials(trx, row.id, row.wrapped_private_key, upgrade))
        ) {
          const { kdf_log_n, kdf_r, kdf_p } = upgrade
          await appendAudit(trx, ctx.auditKey, {
            actorUserId: row.id,
            action: 'kdf.upgrade',
            outcome: 'success',
            detail: `scrypt N=2^${kdf_log_n} r=${kdf_r} p=${kdf_p}; bcrypt cost ${ctx.kdfPolicy.bcryptCost}`,
          })
        }
      },
    )
  } catch (err) {
    wipe(privateKey)
    throw err
  }
  const user = summary(row)
  return new UnlockedUser(
    ctx,
    {
      id: user.id,
      idBytes: row.id,
      username: row.username,
      roles: user.roles,
      publicKey: row.public_key,
    },
    privateKey,
  )
}

/**
 * Changes a password in O(1): the same private key is re-wrapped under a KEK from
 * the new password, and the verifier replaced, in one statement. No patient key
 * or grant is touched. The old password opens nothing afterwards.
 */
export async function changePassword(
  ctx: VaultContext,
  username: string,
  oldPassword: string,
  newPassword: string,
  options: { rekey?: boolean } = {},
): Promise<void> {
  const next = checkPassword(newPassword, 'newPassword')
  const { rekey: withNewKeyPair } = requireFields(options, 'options', ['rekey'])
  const { row, privateKey } = await unlock(ctx, username, oldPassword)
  try {
    if (withNewKeyPair === true) {
      await rekey(ctx, row, privateKey, next)
      return
    }
    const credentials = await credentialsFor(
      next,
      privateKey,
      rowIdToString(row.id),
      ctx.kdfPolicy,
    )
    await auditedTransaction(
      ctx,
      { actorUserId: row.id, action: 'password.change' },
      async (trx) => {
        if (
          !(await replaceUserCredentials(
            trx,
            row.id,
            row.wrapped_private_key,
            credentials,
          ))
        ) {
          throw new AuthenticationError('password was changed concurrently; try again')
        }
      },
    )
  } finally {
    wipe(privateKey)
  }
}

/**
 * Password change with a new key pair, for a suspected compromise: someone holding
 * an old copy of the wrapped private key and the old password would otherwise
 * still open it. Every current grant of the user is opened
 * with the old private key and sealed to the new public key, in one transaction:
 * O(grants), unlike a plain change.
 */
async function rekey(
  ctx: VaultContext,
  row: UserRow,
  oldPrivateKey: Buffer,
  password: string,
): Promise<void> {
  const userId = rowIdToString(row.id)
  // A new version, so the old key's certificate cannot stand for the new row.
  const version = row.public_key_version + 1
  const { publicKey, privateKey } = generateUserKeyPair()
  try {
    const credentials = await credentialsFor(password, privateKey, userId, ctx.kdfPolicy)
    const act = {
      actorUserId: row.id,
      action: 'password.change',
      detail: 'with a new key pair',
    } as const
    await auditedTransaction(ctx, act, async (trx) => {
      for (const grant of await listCurrentGrantsOfUser(trx, row.id)) {
        const patientId = rowIdToString(grant.patient_id)
        let patientKey: Buffer
        try {
          patientKey = await openPatientKey(grant.sealed_key, oldPrivateKey, {
            patientId,
            keyVersion: grant.key_version,
            recipientId: userId,
          })
        } catch (err) {
          throw asIntegrityError(err, `grant for patient ${patientId}`)
        }
        try {
          const sealed = await sealPatientKey(patientKey, publicKey, {
            patientId,
            keyVersion: grant.key_version,
            recipientId: userId,
          })
          await replaceGrantSeal(trx, grant, sealed, grant.granted_by)
        } finally {
          wipe(patientKey)
        }
      }
      if (
        !(await replaceUserKeyPair(
          trx,
          row.id,
          {
            publicKey,
            version,
            certificate: certifyPublicKey(ctx, row.id, version, publicKey),
          },
          credentials,
          row.wrapped_private_key,
        ))
      ) {
        throw new AuthenticationError('password was changed concurrently; try again')
      }
    })
  } finally {
    wipe(privateKey)
  }
}

export async function listUsers(ctx: VaultContext): Promise<UserSummary[]> {
  return (await listUserRows(ctx.db)).map(summary)
}

export async function findUser(
  ctx: VaultContext,
  username: string,
): Promise<UserSummary> {
  const row = await findUserByUsername(ctx.db, checkUsername(username))
  if (!row) throw new NotFoundError('user', username)
  return summary(row)
}

export async function setDisabled(
  ctx: VaultContext,
  userId: string,
  disabled: boolean,
  admin?: UnlockedUser,
): Promise<void> {
  const actorUserId = await adminActor(ctx, admin)
  const id = rowIdFromString(userId, 'userId')
  const act = {
    actorUserId,
    action: disabled ? 'user.disable' : 'user.enable',
    targetUserId: id,
  } as const
  await auditedTransaction(ctx, act, async (trx) => {
    if (!(await setUserDisabled(trx, id, disabled)))
      throw new NotFoundError('user', userId)
  })
}
