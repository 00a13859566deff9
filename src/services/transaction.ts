import { setTimeout as sleep } from 'node:timers/promises'
import type { Knex } from 'knex'
import { DatabaseError } from '../errors/index.js'
import { sanitise } from '../sql/prepared.js'

/** Tries of one operation when InnoDB picks it as a deadlock victim or a lock wait times out. */
export const MAX_ATTEMPTS = 4

/**
 * Runs `work` in one transaction; on a deadlock (1213) or lock-wait timeout (1205)
 * the whole transaction is rolled back and tried again, up to MAX_ATTEMPTS with
 * a short random back-off. Any other error rolls back and surfaces as it is.
 * `work` must therefore not have effects outside the transaction that cannot
 * be repeated.
 */
export async function inTransaction<T>(
  db: Knex,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transactionOnce(db, work)
    } catch (err) {
      if (!(err instanceof DatabaseError && err.retryable) || attempt >= MAX_ATTEMPTS)
        throw err
      await sleep(Math.floor(Math.random() * 20 * attempt))
    }
  }
}

/**
 * One knex transaction whose failure is always the layer's own error.
 *
 * When `work` fails, knex sends ROLLBACK; if that fails too (the connection was
 * lost: the very failure `work` just saw), knex rejects with the ROLLBACK's raw
 * driver error instead of `work`'s, so the caller got an untyped Error named
 * "ROLLBACK - Can't add new command when connection is in closed state" and not
 * the DatabaseError saying which statement failed (found by the crash-safety
 * test). The server rolls back a transaction whose connection is gone, so
 * `work`'s error is the one that tells the truth; it is rethrown as it is.
 * A failure outside `work` (BEGIN or COMMIT, which knex runs on its own query
 * path) becomes a DatabaseError built from codes only. A lost connection at
 * COMMIT leaves the outcome unknown; it is not retryable, so it is not retried.
 */
async function transactionOnce<T>(
  db: Knex,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  let failed: { error: unknown } | undefined
  try {
    return await db.transaction(async (trx) => {
      try {
        return await work(trx)
      } catch (error) {
        failed = { error }
        throw error
      }
    })
  } catch (err) {
    if (failed) throw failed.error
    throw sanitise(err, 'transaction')
  }
}
