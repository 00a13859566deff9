import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import type { UserCredentialColumns, UserRow } from './user.row.js'

const TABLE = 'users'

export async function insertUser(
  db: Executor,
  row: Omit<UserRow, 'disabled_at' | 'password_changed_at' | 'created_at'> & {
    public_key_certificate: Buffer
  },
): Promise<void> {
  await executeWrite(db, db(TABLE).insert(row), 'insert user')
}

export async function findUserByUsername(
  db: Executor,
  username: string,
): Promise<UserRow | undefined> {
  const rows = await selectRows<UserRow>(
    db,
    db(TABLE).select('*').where({ username }),
    'find user',
  )
  return rows[0]
}

export async function findUserById(
  db: Executor,
  id: Buffer,
): Promise<UserRow | undefined> {
  const rows = await selectRows<UserRow>(
    db,
    db(TABLE).select('*').where({ id }),
    'find user',
  )
  return rows[0]
}

/** Public keys of the given users, for sealing grants to them. */
export async function findUsersByIds(
  db: Executor,
  ids: readonly Buffer[],
): Promise<UserRow[]> {
  if (ids.length === 0) return []
  return selectRows<UserRow>(db, db(TABLE).select('*').whereIn('id', ids), 'find users')
}

/**
 * Up to `limit` users without a certificate, by id after `after`, locked FOR
 * UPDATE (the admin's certification step).
 */
export async function lockUncertifiedUsers(
  db: Executor,
  after: Buffer,
  limit: number,
): Promise<UserRow[]> {
  return selectRows<UserRow>(
    db,
    db(TABLE)
      .select('*')
      .whereNull('public_key_certificate')
      .andWhere('id', '>', after)
      .orderBy('id')
      .limit(limit)
      .forUpdate(),
    'find uncertified users',
  )
}

/**
 * The user's row, locked until the transaction ends: one user's searches count
 * their allowance one after the other, on every instance.
 *
 * SELECT * FROM users WHERE id = ? FOR UPDATE
 */
export async function lockUserById(
  db: Executor,
  id: Buffer,
): Promise<UserRow | undefined> {
  const rows = await selectRows<UserRow>(
    db,
    db(TABLE).select('*').where({ id }).forUpdate(),
    'lock user',
  )
  return rows[0]
}

/** How many users have no certificate (the doctor's line). */
export async function countUncertifiedUsers(db: Executor): Promise<number> {
  const rows = await selectRows<{ n: number | string }>(
    db,
    db(TABLE).count({ n: '*' }).whereNull('public_key_certificate'),
    'count uncertified users',
  )
  return Number(rows[0]?.n ?? 0)
}

/**
 * Stores the certificate of the key the row holds now, if it still has none and
 * still holds that key at that version.
 */
export async function setUserKeyCertificate(
  db: Executor,
  id: Buffer,
  publicKey: Buffer,
  version: number,
  certificate: Buffer,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db(TABLE)
      .update({ public_key_certificate: certificate })
      .where({ id, public_key: publicKey, public_key_version: version })
      .whereNull('public_key_certificate'),
    'certify user key',
  )
  return affectedRows === 1
}

export async function listUsers(db: Executor): Promise<UserRow[]> {
  return selectRows<UserRow>(db, db(TABLE).select('*').orderBy('username'), 'list users')
}

/**
 * Replaces verifier, KDF salt and parameters and the wrapped private key in one
 * statement, only if the wrapped key is still the one the caller opened: two
 * concurrent password changes cannot both win. Returns whether it did.
 */
export async function replaceUserCredentials(
  db: Executor,
  id: Buffer,
  expectedWrappedPrivateKey: Buffer,
  columns: UserCredentialColumns,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db(TABLE)
      .update({ ...columns, password_changed_at: db.raw('CURRENT_TIMESTAMP(3)') })
      .where({ id, wrapped_private_key: expectedWrappedPrivateKey }),
    'update user credentials',
  )
  return affectedRows === 1
}

export async function setUserDisabled(
  db: Executor,
  id: Buffer,
  disabled: boolean,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db(TABLE)
      .update({ disabled_at: disabled ? db.raw('CURRENT_TIMESTAMP(3)') : null })
      .where({ id }),
    'update user',
  )
  return affectedRows === 1
}

/** A new public key with its version and certificate. */
export interface CertifiedPublicKey {
  readonly publicKey: Buffer
  /** The version the row had before, plus one. */
  readonly version: number
  readonly certificate: Buffer
}

/**
 * Gives the user a new key pair and credentials (recovery after a forgotten
 * password: the old private key is lost, so the old wrap is replaced outright),
 * only if the row is still at the version before `key.version`.
 */
export async function replaceUserKeyPair(
  db: Executor,
  id: Buffer,
  key: CertifiedPublicKey,
  columns: UserCredentialColumns,
  expectedWrappedPrivateKey?: Buffer,
): Promise<boolean> {
  const query = db(TABLE)
    .update({
      ...columns,
      public_key: key.publicKey,
      public_key_version: key.version,
      public_key_certificate: key.certificate,
      password_changed_at: db.raw('CURRENT_TIMESTAMP(3)'),
    })
    .where({ id, public_key_version: key.version - 1 })
  // A rekey by the user must not race a concurrent password change (recovery,
  // where the old key is lost, gives no expectation).
  if (expectedWrappedPrivateKey)
    query.andWhere({ wrapped_private_key: expectedWrappedPrivateKey })
  const { affectedRows } = await executeWrite(db, query, 'replace user key pair')
  return affectedRows === 1
}
