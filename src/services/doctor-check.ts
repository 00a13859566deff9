/**
 * The result type of the posture check ("doctor", docs/threat-model.md) and the helpers
 * every check builds its line with. Texts name settings, accounts and counts,
 * never a key, a password or a bound value.
 */

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL'

export interface PostureCheck {
  /** Stable identifier, e.g. `general_log`; callers and refusals name checks by it. */
  readonly id: string
  readonly status: CheckStatus
  readonly title: string
  /** What was found, in one or two sentences. */
  readonly detail: string
  /** What to change; present on WARN and FAIL. */
  readonly fix?: string
}

const RANK: Record<CheckStatus, number> = { PASS: 0, WARN: 1, FAIL: 2 }

/** The most severe status among `checks`; PASS for an empty list. */
export function worstStatus(checks: readonly PostureCheck[]): CheckStatus {
  let worst: CheckStatus = 'PASS'
  for (const check of checks) if (RANK[check.status] > RANK[worst]) worst = check.status
  return worst
}

/** The id and title of one check, and builders for its line. */
export interface CheckLine {
  readonly id: string
  readonly title: string
  pass(detail: string): PostureCheck
  warn(detail: string, fix: string): PostureCheck
  fail(detail: string, fix: string): PostureCheck
  /** WARN, or FAIL when `production` is set (each check's comment says whether it does this). */
  warnOrFail(production: boolean, detail: string, fix: string): PostureCheck
}

export function line(id: string, title: string): CheckLine {
  const make = (status: CheckStatus, detail: string, fix?: string): PostureCheck =>
    fix === undefined ? { id, status, title, detail } : { id, status, title, detail, fix }
  return {
    id,
    title,
    pass: (detail) => make('PASS', detail),
    warn: (detail, fix) => make('WARN', detail, fix),
    fail: (detail, fix) => make('FAIL', detail, fix),
    warnOrFail: (production, detail, fix) =>
      production
        ? make('FAIL', `${detail} Production mode makes this a failure.`, fix)
        : make('WARN', detail, fix),
  }
}
