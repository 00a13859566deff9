import { wipe } from '../crypto/bytes.js'
import { AuthenticationError } from '../errors/index.js'
import type { Role } from './domain.js'
import { SessionKeyCache } from './session-keys.js'
import type { VaultContext } from './vault-context.js'

/**
 * What a login unlocks: the user's X25519 private key and the cache of patient
 * field subkeys opened with it, with the user's identity. This is the value the
 * services act with. It imports no service, so the services can take it without
 * importing the `Session` facade that calls them; the facade holds one of these.
 * `close()` (or idle expiry) wipes the keys.
 */
export class UnlockedUser {
  readonly userId: string
  readonly userIdBytes: Buffer
  readonly username: string
  readonly roles: readonly Role[]
  /**
   * Checked against the private key at login, so a public key swapped in the users
   * table is refused there instead of receiving the seals this user makes.
   */
  readonly publicKey: Buffer
  readonly keyCache: SessionKeyCache
  readonly #idleMs: number
  readonly #now: () => number
  #privateKey: Buffer | undefined
  #lastUsed: number

  constructor(
    ctx: Pick<VaultContext, 'keyCacheTtlMs' | 'sessionIdleMs' | 'now'>,
    user: {
      id: string
      idBytes: Buffer
      username: string
      roles: readonly Role[]
      publicKey: Buffer
    },
    privateKey: Buffer,
  ) {
    this.userId = user.id
    this.userIdBytes = user.idBytes
    this.username = user.username
    this.roles = user.roles
    this.publicKey = user.publicKey
    this.keyCache = new SessionKeyCache(ctx.keyCacheTtlMs, ctx.now)
    this.#idleMs = ctx.sessionIdleMs
    this.#now = ctx.now
    this.#privateKey = privateKey
    this.#lastUsed = ctx.now()
  }

  get isOpen(): boolean {
    return this.#privateKey !== undefined
  }

  /** The private key. Throws once closed or idle too long. */
  privateKey(): Buffer {
    const now = this.#now()
    if (this.#privateKey && now - this.#lastUsed > this.#idleMs) this.close()
    if (!this.#privateKey)
      throw new AuthenticationError('session is closed or expired; log in again')
    this.#lastUsed = now
    return this.#privateKey
  }

  /** Wipes the private key and every cached patient key (best effort: crypto/bytes.ts). */
  close(): void {
    wipe(this.#privateKey)
    this.#privateKey = undefined
    this.keyCache.clear()
  }
}
