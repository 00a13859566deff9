import { wipe } from '../crypto/bytes.js'
import type { SqlFieldKeys } from '../sql/envelope-sql.js'

interface CachedKeys {
  readonly keys: SqlFieldKeys
  readonly expiresAt: number
}

/**
 * Field subkeys of patient-key versions this session unwrapped, kept for a
 * bounded time so a chart read does not repeat the HPKE open. Entries are keyed
 * by patient *and* version, so a rotation makes old entries unreachable; the
 * grant itself is still checked in the database on every access.
 */
export class SessionKeyCache {
  /** At most this many patients' keys per session (~0.5 KB each); the oldest go first. */
  static readonly MAX_ENTRIES = 1024
  readonly #entries = new Map<string, CachedKeys>()

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(patientId: string, version: number): SqlFieldKeys | undefined {
    const key = `${patientId}/${version}`
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= this.now()) {
      // Dropped, not wiped: an operation already running may still bind these
      // bytes. close() wipes whatever is cached.
      this.#entries.delete(key)
      return undefined
    }
    return entry.keys
  }

  set(patientId: string, keys: SqlFieldKeys): void {
    // Bounded: a session walking many charts (an export) does not hold every key
    // until expiry. Maps iterate in insertion order, so the first is the oldest.
    if (this.#entries.size >= SessionKeyCache.MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(`${patientId}/${keys.keyVersion}`, {
      keys,
      expiresAt: this.now() + this.ttlMs,
    })
  }

  get size(): number {
    return this.#entries.size
  }

  /** Zero-fills every cached subkey and forgets them (best effort: crypto/bytes.ts). */
  clear(): void {
    for (const entry of this.#entries.values()) {
      wipe(entry.keys.enc, entry.keys.inner, entry.keys.outer)
    }
    this.#entries.clear()
  }
}
