import type { Knex } from 'knex'
import {
  AccessDeniedError,
  IntegrityError,
  NotFoundError,
  RateLimitError,
} from '../errors/index.js'
import { appendAudit, appendAudits, type AuditEvent } from './audit.service.js'
import { inTransaction } from './transaction.js'
import type { VaultContext } from './vault-context.js'

/** What an act is, before its outcome is known. */
export type AuditedAct = Omit<AuditEvent, 'outcome'>

/**
 * Runs `work` in one transaction and appends its audit row LAST in the same
 * transaction (docs/concepts.md: the act and its record commit together).
 * `describe` may add facts known only at the end (e.g. `v1->v2`); `record`
 * queues further acts of the same transaction (a search's read of each patient
 * it returns), appended with the act's row in one batch, before it.
 * A refused act (AccessDeniedError: outcome `denied`), an integrity failure or
 * an act on something that is not there (NotFoundError: outcome `failure`, the
 * detail `integrity` or `not_found`), or one over its rate limit
 * (RateLimitError: outcome `denied`, detail `rate_limited`) is recorded in a transaction of its own,
 * since the act's transaction rolls back; if even that fails, the original
 * error is what the caller sees. So an act whose row is missing leaves one row
 * that says so, never a success row: `work` throws its NotFoundError inside.
 */
export async function auditedTransaction<T>(
  ctx: VaultContext,
  act: AuditedAct,
  work: (trx: Knex.Transaction, record: (event: AuditEvent) => void) => Promise<T>,
  describe?: (result: T) => Partial<AuditedAct>,
): Promise<T> {
  try {
    return await inTransaction(ctx.db, async (trx) => {
      const recorded: AuditEvent[] = []
      const result = await work(trx, (event) => void recorded.push(event))
      await appendAudits(trx, ctx.auditKey, [
        ...recorded,
        { ...act, ...describe?.(result), outcome: 'success' },
      ])
      return result
    })
  } catch (err) {
    if (
      err instanceof AccessDeniedError ||
      err instanceof IntegrityError ||
      err instanceof NotFoundError ||
      err instanceof RateLimitError
    ) {
      const outcome =
        err instanceof AccessDeniedError || err instanceof RateLimitError
          ? 'denied'
          : 'failure'
      await inTransaction(ctx.db, (trx) =>
        appendAudit(trx, ctx.auditKey, {
          ...act,
          outcome,
          detail: err.code.toLowerCase(),
        }),
      ).catch(() => undefined)
    }
    throw err
  }
}
