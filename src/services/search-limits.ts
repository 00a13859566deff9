import { ConfigurationError } from '../errors/index.js'

/**
 * How many searches a session and a user may run in a window (docs/search.md).
 * A search answers "is there a patient with this national id", so a script
 * with a stolen session could enumerate identifiers; a front desk searches a
 * few times a minute.
 */
export interface SearchLimits {
  /** Searches one session may run per window; 30 by default. */
  readonly perSession: number
  /** Searches one user may run per window, on every instance together; 60 by default. */
  readonly perUser: number
  /** The window, in milliseconds; one minute by default. */
  readonly windowMs: number
}

export const DEFAULT_SEARCH_LIMITS: SearchLimits = Object.freeze({
  perSession: 30,
  perUser: 60,
  windowMs: 60_000,
})

/** The limits createVault uses: the defaults, each overridable; a bad one is a ConfigurationError. */
export function searchLimitsOf(given: Partial<SearchLimits> | undefined): SearchLimits {
  if (given === undefined) return DEFAULT_SEARCH_LIMITS
  if (typeof given !== 'object' || given === null) {
    throw new ConfigurationError('"searchLimits" must be an object')
  }
  const limits = { ...DEFAULT_SEARCH_LIMITS }
  for (const name of ['perSession', 'perUser', 'windowMs'] as const) {
    const value = given[name]
    if (value === undefined) continue
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigurationError(`"searchLimits.${name}" must be a positive integer`)
    }
    limits[name] = value
  }
  return Object.freeze(limits)
}
