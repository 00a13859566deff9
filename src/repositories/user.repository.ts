import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import type { UserCredentialColumns, UserRow } from './user.row.js'

const TABLE = 'users'

export async function insertUser(
  db: Executor,
  row: Omit<UserRow, 'disabled_at' | 'password_changed_at' | 'created_at'>,
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

/**
 * Gives the user a new key pair and credentials (recovery after a forgotten
 * password: the old private key is lost, so the old wrap is replaced outright).
 */
export async function replaceUserKeyPair(
  db: Executor,
  id: Buffer,
  publicKey: Buffer,
  columns: UserCredentialColumns,
  expectedWrappedPrivateKey?: Buffer,
): Promise<boolean> {
  const query = db(TABLE)
    .update({
      ...columns,
      public_key: publicKey,
      password_changed_at: db.raw('CURRENT_TIMESTAMP(3)'),
    })
    .where({ id })
  // A rekey by the user must not race a concurrent password change (recovery,
  // where the old key is lost, gives no expectation).
  if (expectedWrappedPrivateKey)
    query.andWhere({ wrapped_private_key: expectedWrappedPrivateKey })
  const { affectedRows } = await executeWrite(db, query, 'replace user key pair')
  return affectedRows === 1
}
