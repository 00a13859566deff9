import type { Knex } from 'knex'
import type { KdfPolicy } from '../crypto/kdf-policy.js'
import type { TableDeclaration } from '../schema/define-table.js'
import type { SearchLimits } from './search-limits.js'

/** What every service needs; built once by createVault(). */
export interface VaultContext {
  readonly db: Knex
  /** Organisation recovery public key (X25519, 32 bytes): every patient key is also sealed to it. */
  readonly recoveryPublicKey: Buffer
  /** SHA-256 of the recovery public key, stored with each recovery seal. */
  readonly recoveryFingerprint: Buffer
  /**
   * The audit key (32 bytes, from the deployment's configuration, never stored in
   * the database): the MAC key of the audit chain (services/audit.service.ts).
   */
  readonly auditKey: Buffer
  /**
   * The search keys (32 bytes each, from the deployment's configuration): the
   * current one first, rows are indexed under it; then the one it replaces,
   * while a rotation runs (services/search-keys.ts).
   */
  readonly searchKeys: readonly Buffer[]
  /** How many searches a session and a user may run per window. */
  readonly searchLimits: SearchLimits
  /** Parameters for new and changed passwords. */
  readonly kdfPolicy: KdfPolicy
  /** How long a session keeps an unwrapped patient key. */
  readonly keyCacheTtlMs: number
  /** A session unused this long is closed and its keys wiped (HIPAA 164.312(a)(2)(iii)). */
  readonly sessionIdleMs: number
  readonly now: () => number
  /**
   * Every declared table of the deployment by name: the chart's and the
   * application's. Rotation, revoke and rotate-all re-encrypt all of them.
   */
  readonly tables: ReadonlyMap<string, TableDeclaration>
}

/** The HPKE recipient id bound into recovery seals. */
export function recoveryRecipientId(fingerprint: Buffer): string {
  return `recovery:${fingerprint.toString('hex')}`
}
