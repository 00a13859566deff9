import { VaultError } from './vault-error.js'

/**
 * Too many acts of one kind in a short time (searches: docs/search.md). Nothing
 * was done; `retryAfterMs` says when the oldest counted act leaves the window.
 */
export class RateLimitError extends VaultError {
  readonly code = 'RATE_LIMITED' as const

  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message)
  }
}
