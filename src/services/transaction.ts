import { setTimeout as sleep } from 'node:timers/promises'
import type { Knex } from 'knex'
import { DatabaseError } from '../errors/index.js'

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
      return await db.transaction(work)
    } catch (err) {
      if (!(err instanceof DatabaseError && err.retryable) || attempt >= MAX_ATTEMPTS)
        throw err
      await sleep(Math.floor(Math.random() * 20 * attempt))
    }
  }
}
