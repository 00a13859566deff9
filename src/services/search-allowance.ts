import { RateLimitError } from '../errors/index.js'
import { AUDIT_TABLES } from '../repositories/audit-log.row.js'
import { countRecentActs } from '../repositories/search.repository.js'
import type { Executor } from '../sql/prepared.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/** Each session's searches in the window (their times), kept with the session. */
const sessionSearches = new WeakMap<UnlockedUser, number[]>()

/**
 * Counts this search against the session's limit (in this process) and the
 * user's (the audit log's `search` rows of the window, every outcome, on every
 * instance: refused searches count too). Over either: RateLimitError.
 *
 * The per-user count is a read, not a lock: two instances counting at the same
 * moment may each let one search through past the limit.
 */
export async function takeSearchAllowance(
  db: Executor,
  ctx: VaultContext,
  user: UnlockedUser,
): Promise<void> {
  const { perSession, perUser, windowMs } = ctx.searchLimits
  const now = ctx.now()
  const times = (sessionSearches.get(user) ?? []).filter((t) => t > now - windowMs)
  sessionSearches.set(user, times)
  if (times.length >= perSession) {
    throw new RateLimitError(
      `this session ran ${times.length} searches in the last ${windowMs} ms (limit ${perSession})`,
      times[0]! + windowMs - now,
    )
  }
  times.push(now)
  const recent = await countRecentActs(
    db,
    AUDIT_TABLES.log,
    user.userIdBytes,
    'search',
    windowMs,
  )
  if (recent.count >= perUser) {
    const wait = recent.oldest
      ? Math.max(0, recent.oldest.getTime() + windowMs - recent.now.getTime())
      : windowMs
    throw new RateLimitError(
      `this user ran ${recent.count} searches in the last ${windowMs} ms (limit ${perUser})`,
      wait,
    )
  }
}
