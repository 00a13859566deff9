import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { executeWrite, selectRows, type Executor } from '../../src/sql/prepared.js'
import { inTransaction } from '../../src/services/transaction.js'
import { insertRows } from './fixtures.js'

/**
 * The seed answer's key scheme, for the bench only (never in src/): the
 * StackOverflow answer to "Encrypt patient data" (question 10098368), which
 * docs/concepts.md argues against. Each patient has a random "system" key; each user
 * has a "user" key = SHA-256(password); a grant stores the system key encrypted
 * under the user key "in the user's account"; and "when a user wants to change
 * his/her password, you must decrypt each of the system keys that are associated
 * with that account, and then re-encrypt them using the new password."
 *
 * The question uses MySQL's AES_ENCRYPT; we wrap with AES-256-CBC and a random IV
 * per key (stored `iv ‖ ciphertext`), done in Node, which is the cheaper side.
 */

export const SEED_USER_KEYS = 'bench_seed_user_keys'

export async function createSeedTables(db: Knex): Promise<void> {
  await db.schema.createTable(SEED_USER_KEYS, (t) => {
    t.engine('InnoDB')
    t.specificType('user_id', 'BINARY(16)').notNullable()
    t.specificType('patient_id', 'BINARY(16)').notNullable()
    // 16-byte IV + 48 bytes of CBC ciphertext of a 32-byte key.
    t.specificType('wrapped_key', 'VARBINARY(64)').notNullable()
    t.primary(['user_id', 'patient_id'])
  })
}

/** The seed's "user key": SHA-256 of the password (no salt, no work factor). */
export function seedUserKey(password: string): Buffer {
  return createHash('sha256').update(password, 'utf8').digest()
}

export function seedWrap(systemKey: Buffer, userKey: Buffer): Buffer {
  const iv = randomBytes(16)
  const cipher = createCipheriv('aes-256-cbc', userKey, iv)
  return Buffer.concat([iv, cipher.update(systemKey), cipher.final()])
}

/** Throws on a wrong password (bad padding) most of the time: the seed has no verifier. */
export function seedUnwrap(wrapped: Buffer, userKey: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-cbc', userKey, wrapped.subarray(0, 16))
  return Buffer.concat([decipher.update(wrapped.subarray(16)), decipher.final()])
}

/** Gives `userId` the seed-style grants of `patientIds`, each under its own random system key. */
export async function seedSeedGrants(
  db: Executor,
  userId: Buffer,
  patientIds: readonly Buffer[],
  password: string,
): Promise<void> {
  const userKey = seedUserKey(password)
  await insertRows(
    db,
    SEED_USER_KEYS,
    patientIds.map((pid) => ({
      user_id: userId,
      patient_id: pid,
      wrapped_key: seedWrap(randomBytes(32), userKey),
    })),
    1000,
  )
}

async function lockedKeys(
  trx: Knex.Transaction,
  userId: Buffer,
): Promise<{ patient_id: Buffer; wrapped_key: Buffer }[]> {
  return selectRows(
    trx,
    trx(SEED_USER_KEYS)
      .select('patient_id', 'wrapped_key')
      .where('user_id', userId)
      .forUpdate(),
    'seed: read wrapped keys',
  )
}

/**
 * The seed's password change as the answer describes it: every wrapped system
 * key decrypted with the old user key and re-encrypted with the new one, written
 * back one UPDATE per key, in one transaction.
 */
export async function seedChangePasswordRowByRow(
  db: Knex,
  userId: Buffer,
  oldPassword: string,
  newPassword: string,
): Promise<number> {
  const oldKey = seedUserKey(oldPassword)
  const newKey = seedUserKey(newPassword)
  return inTransaction(db, async (trx) => {
    const rows = await lockedKeys(trx, userId)
    for (const row of rows) {
      const systemKey = seedUnwrap(row.wrapped_key, oldKey)
      await executeWrite(
        trx,
        trx(SEED_USER_KEYS)
          .update({ wrapped_key: seedWrap(systemKey, newKey) })
          .where({ user_id: userId, patient_id: row.patient_id }),
        'seed: re-wrap key',
      )
      systemKey.fill(0)
    }
    return rows.length
  })
}

/**
 * The same method at its cheapest: the re-wrapped keys written back 500 per
 * statement (INSERT … ON DUPLICATE KEY UPDATE). Still O(grants).
 */
export async function seedChangePasswordBatched(
  db: Knex,
  userId: Buffer,
  oldPassword: string,
  newPassword: string,
): Promise<number> {
  const oldKey = seedUserKey(oldPassword)
  const newKey = seedUserKey(newPassword)
  return inTransaction(db, async (trx) => {
    const rows = await lockedKeys(trx, userId)
    const rewrapped = rows.map((row) => {
      const systemKey = seedUnwrap(row.wrapped_key, oldKey)
      const wrapped = seedWrap(systemKey, newKey)
      systemKey.fill(0)
      return { user_id: userId, patient_id: row.patient_id, wrapped_key: wrapped }
    })
    for (let at = 0; at < rewrapped.length; at += 500) {
      await executeWrite(
        trx,
        trx(SEED_USER_KEYS)
          .insert(rewrapped.slice(at, at + 500))
          .onConflict(['user_id', 'patient_id'])
          .merge(['wrapped_key']),
        'seed: re-wrap keys',
      )
    }
    return rows.length
  })
}
