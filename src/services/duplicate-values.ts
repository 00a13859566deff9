import { RateLimitError } from '../errors/index.js'
import { lockUserById } from '../repositories/user.repository.js'
import { appendAudit } from './audit.service.js'
import { DuplicateValueError } from './row-indexes.js'
import { takeSearchAllowance } from './search-allowance.js'
import { inTransaction } from './transaction.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/**
 * A write refused by a unique index answers "does a patient with this national
 * id exist", which is a search: so it is one for the record and the limits. It
 * is audited as a failed `search` (detail `<table>.<index>: duplicate`) and
 * counts against the session's and the user's search allowance; once over it,
 * the caller gets the RateLimitError (audited as denied) instead of the answer.
 *
 * Wraps the act (its own transaction already rolled back when this runs).
 */
export async function recordingDuplicates<T>(
  ctx: VaultContext,
  user: UnlockedUser,
  act: Promise<T>,
): Promise<T> {
  try {
    return await act
  } catch (err) {
    if (!(err instanceof DuplicateValueError)) throw err
    throw await recordDuplicate(ctx, user, err)
  }
}

async function recordDuplicate(
  ctx: VaultContext,
  user: UnlockedUser,
  err: DuplicateValueError,
): Promise<Error> {
  const event = { actorUserId: user.userIdBytes, action: 'search' } as const
  try {
    await inTransaction(ctx.db, async (trx) => {
      await lockUserById(trx, user.userIdBytes)
      await takeSearchAllowance(trx, ctx, user)
      await appendAudit(trx, ctx.auditKey, {
        ...event,
        outcome: 'failure',
        detail: `${err.index}: duplicate`,
      })
    })
    return err
  } catch (refusal) {
    if (!(refusal instanceof RateLimitError)) return err
    await inTransaction(ctx.db, (trx) =>
      appendAudit(trx, ctx.auditKey, {
        ...event,
        outcome: 'denied',
        detail: 'rate_limited',
      }),
    ).catch(() => undefined)
    return refusal
  }
}
