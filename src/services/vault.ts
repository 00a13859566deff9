import * as chart from './chart.service.js'
import type { ChartBaselineResult, ChartVerifyResult } from './chart.service.js'
import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import { AUDIT_KEY_BYTES } from '../crypto/audit-mac.js'
import { abytes } from '../crypto/bytes.js'
import { SEARCH_KEY_BYTES } from '../crypto/blind-index.js'
import { KDF_POLICY, type KdfPolicy } from '../crypto/kdf-policy.js'
import { ConfigurationError } from '../errors/index.js'
import type { NewUser, UserSummary } from './domain.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { tableRegistry } from './table-registry.js'
import * as breakGlass from './break-glass.service.js'
import type { ConversionResult } from './conversion-job.js'
import * as convertLegacy from './convert-legacy.service.js'
import type { ConvertLegacyOptions } from './convert-legacy.service.js'
import * as convertPlaintext from './convert-plaintext.service.js'
import type { ConvertPlaintextOptions } from './convert-plaintext.service.js'
import * as dropPlaintext from './drop-plaintext.service.js'
import * as emergencyRotation from './emergency-rotation.service.js'
import type {
  EmergencyRotationOptions,
  EmergencyRotationResult,
} from './emergency-rotation.service.js'
import * as recovery from './recovery.service.js'
import * as rotation from './rotation.service.js'
import type { RotateAllProgress, RotateAllResult } from './rotation.service.js'
import type { RecoveryCredentials } from './recovery.service.js'
import { Session, unlockedUserOf } from './session.js'
import * as certification from './user-certification.service.js'
import * as users from './user.service.js'
import type { VaultContext } from './vault-context.js'
import { searchLimitsOf, type SearchLimits } from './search-limits.js'
import * as reindex from './search-reindex.service.js'
import type { ReindexOptions, ReindexResult } from './search-reindex.service.js'

export interface VaultOptions {
  /**
   * A knex instance made by `createDb()` (its pool sets aes-256-cbc on every
   * connection). On a connection in any other block_encryption_mode every seal
   * and open is refused with a ConfigurationError (sql/mode-guard.ts).
   */
  readonly db: Knex
  /** The organisation's recovery public key (X25519, 32 raw bytes). */
  readonly recoveryPublicKey: Buffer
  /**
   * The audit key: 32 random bytes from the deployment's configuration (a secret
   * store, not the database), the MAC key of the tamper-evident audit log. The
   * same key for every instance of the deployment, kept for as long as the log is.
   */
  readonly auditKey: Buffer
  /**
   * The organisation search key: 32 random bytes from the deployment's secret
   * store (never the database), from which each search index derives its key
   * (docs/search.md). Written rows are indexed under it.
   */
  readonly searchKey: Buffer
  /**
   * The search key being replaced: while the indexes are rebuilt under
   * `searchKey`, searches look under both, so they keep finding every row.
   */
  readonly previousSearchKey?: Buffer
  /** Searches allowed per session and per user in a window (docs/search.md); 30 and 60 a minute by default. */
  readonly searchLimits?: Partial<SearchLimits>
  /** Password KDF parameters for new and changed passwords; KDF_POLICY by default. */
  readonly kdfPolicy?: KdfPolicy
  /** How long a session keeps an unwrapped patient key; 5 minutes by default. */
  readonly keyCacheTtlMs?: number
  /** Idle time after which a session closes itself; 15 minutes by default. */
  readonly sessionIdleMs?: number
  /** Clock, for tests. */
  readonly now?: () => number
  /**
   * The application's declared tables (`defineTable`), beside the chart's own.
   * `session.table()` serves only these, and every rotation re-encrypts them.
   */
  readonly tables?: readonly TableDeclaration[]
}

/** Who acts and with what: an administrator's session and the offline recovery private key. */
export interface RecoveryAuthority {
  readonly admin: Session
  /** Read by the operator from the recovery key file; never stored in the database. */
  readonly recoveryPrivateKey: Buffer
}

/** The entry point of the library. */
export interface Vault {
  /** Registers a user; with `admin` (admin role) the act is attributed to them in the audit log. */
  registerUser(user: NewUser, admin?: Session): Promise<UserSummary>
  login(username: string, password: string): Promise<Session>
  /**
   * O(1): re-wraps the same private key. With `rekey`, also a new key pair and
   * every grant re-sealed to it (after a suspected compromise of the old password).
   */
  changePassword(
    username: string,
    oldPassword: string,
    newPassword: string,
    options?: { rekey?: boolean },
  ): Promise<void>
  findUser(username: string): Promise<UserSummary>
  listUsers(): Promise<UserSummary[]>
  /** Disables a user: open sessions lose access at their next statement. */
  disableUser(userId: string, admin?: Session): Promise<void>
  enableUser(userId: string, admin?: Session): Promise<void>
  /**
   * The one-off step after upgrading a database made before public keys were
   * certified: certifies every user's public key as the database holds it now
   * (admin role; audited; resumable). Until then nothing is sealed to them.
   */
  certifyUsers(admin: Session): Promise<{ certified: number }>
  /**
   * The one-off step after upgrading a database made before chart states:
   * records the state of every patient who has none, from the rows as they are
   * now (admin role; audited per patient; resumable). `reset` records one
   * patient's state again, after an investigation (docs/integrity.md).
   */
  recordChartStates(
    admin: Session,
    options?: {
      reset?: string
      signal?: AbortSignal
      onProgress?: (progress: { recorded: number; refused: number }) => void
    },
  ): Promise<ChartBaselineResult>
  /**
   * Checks one patient's rows against the recorded chart state, and the state
   * against the audit trail, with the audit key alone (no patient key).
   */
  verifyChart(patientId: string): Promise<ChartVerifyResult>
  /** Forgotten password: new key pair and password, patients re-granted from the recovery key. */
  recoverUser(
    authority: RecoveryAuthority,
    username: string,
    newPassword: string,
  ): Promise<{ patients: number }>
  /** Rotates every patient's key from the recovery key; resumes an unfinished run. */
  rotateAll(
    authority: RecoveryAuthority,
    options?: { onProgress?: (p: RotateAllProgress) => void; signal?: AbortSignal },
  ): Promise<RotateAllResult>
  /** Creates the emergency key (if none) and seals every patient to it; resumable. */
  setUpEmergencyAccess(
    authority: RecoveryAuthority,
  ): Promise<{ created: boolean; sealed: number }>
  /** Gives a user with the emergency role the emergency key, so they can break glass. */
  grantEmergencyKey(authority: RecoveryAuthority, userId: string): Promise<void>
  /**
   * Takes the emergency key away from a user; returns whether they held it. A
   * copy of it in an old backup still opens with their old password: follow a
   * revoke with {@link Vault.rotateEmergencyKey}.
   */
  revokeEmergencyKey(admin: Session, userId: string): Promise<boolean>
  /**
   * Rotates the emergency key pair: a new pair, sealed to every current holder
   * who still has the emergency role; every patient re-sealed to it from the
   * recovery key (one transaction each); then every wrap of the old key
   * destroyed. Resumable: a call while a rotation is under way finishes it.
   */
  rotateEmergencyKey(
    authority: RecoveryAuthority,
    options?: EmergencyRotationOptions,
  ): Promise<EmergencyRotationResult>
  /** Grants a patient to a user from the patient's recovery seal (e.g. every grantee is gone). */
  restorePatientAccess(
    authority: RecoveryAuthority,
    patientId: string,
    userId: string,
  ): Promise<{ created: boolean }>
  /**
   * Converts the plaintext column `convertingFrom` names for a field into its
   * envelopes, one transaction per patient; resumable, stoppable, with a dry run.
   */
  convertPlaintextColumn(
    authority: RecoveryAuthority,
    table: TableDeclaration,
    options: ConvertPlaintextOptions,
  ): Promise<ConversionResult>
  /**
   * Converts a column of MySQL `AES_ENCRYPT(value, key)` (aes-128-ecb) into a
   * field's envelopes under each patient's key; the operator supplies the key.
   */
  convertLegacyColumn(
    authority: RecoveryAuthority,
    table: TableDeclaration,
    options: ConvertLegacyOptions,
  ): Promise<ConversionResult>
  /**
   * Sets every search index under the current search key (docs/search.md): after
   * a search-key rotation, and once after upgrading to search indexes. One
   * transaction per patient; resumable, stoppable with `signal`.
   */
  rebuildSearchIndexes(
    authority: RecoveryAuthority,
    options?: ReindexOptions,
  ): Promise<ReindexResult>
  /** Drops the column converted from, once no row holds a value in it. */
  dropPlaintextColumn(
    admin: Session,
    table: TableDeclaration,
    column: string,
  ): Promise<{ table: string; column: string }>
}

export function createVault(options: VaultOptions): Vault {
  try {
    abytes(options.recoveryPublicKey, 'recoveryPublicKey', 32)
    abytes(options.auditKey, 'auditKey', AUDIT_KEY_BYTES)
    abytes(options.searchKey, 'searchKey', SEARCH_KEY_BYTES)
    if (options.previousSearchKey !== undefined) {
      abytes(options.previousSearchKey, 'previousSearchKey', SEARCH_KEY_BYTES)
    }
  } catch (err) {
    throw new ConfigurationError((err as Error).message)
  }
  const ctx: VaultContext = {
    db: options.db,
    recoveryPublicKey: options.recoveryPublicKey,
    recoveryFingerprint: createHash('sha256').update(options.recoveryPublicKey).digest(),
    // A copy, in memory of its own (Buffer.from and Buffer.concat may slice the
    // shared 8 KiB pool): the caller may wipe or reuse its buffer.
    auditKey: Buffer.alloc(options.auditKey.length, options.auditKey),
    searchKeys: [options.searchKey, options.previousSearchKey]
      .filter((k) => k !== undefined)
      .map((k) => Buffer.alloc(k.length, k)),
    searchLimits: searchLimitsOf(options.searchLimits),
    kdfPolicy: options.kdfPolicy ?? KDF_POLICY,
    keyCacheTtlMs: options.keyCacheTtlMs ?? 5 * 60_000,
    sessionIdleMs: options.sessionIdleMs ?? 15 * 60_000,
    now: options.now ?? Date.now,
    tables: tableRegistry(options.tables),
  }
  // The services act with the unlocked user behind a session, never the Session.
  // The methods are async so that a refused session rejects, as every other error does.
  const adminOf = (admin: Session | undefined) =>
    admin ? unlockedUserOf(admin, 'admin') : undefined
  const credentialsOf = (authority: RecoveryAuthority): RecoveryCredentials => ({
    admin: unlockedUserOf(authority.admin, 'authority.admin'),
    recoveryPrivateKey: authority.recoveryPrivateKey,
  })
  return {
    registerUser: async (user, admin) => users.registerUser(ctx, user, adminOf(admin)),
    login: async (username, password) =>
      new Session(ctx, await users.login(ctx, username, password)),
    changePassword: (username, oldPassword, newPassword, options) =>
      users.changePassword(ctx, username, oldPassword, newPassword, options),
    findUser: (username) => users.findUser(ctx, username),
    listUsers: () => users.listUsers(ctx),
    disableUser: async (userId, admin) =>
      users.setDisabled(ctx, userId, true, adminOf(admin)),
    enableUser: async (userId, admin) =>
      users.setDisabled(ctx, userId, false, adminOf(admin)),
    certifyUsers: async (admin) =>
      certification.certifyUsers(ctx, unlockedUserOf(admin, 'admin')),
    recordChartStates: async (admin, options) =>
      chart.recordChartStates(ctx, unlockedUserOf(admin, 'admin'), options),
    verifyChart: async (patientId) =>
      chart.verifyChartOf(ctx.db, ctx.auditKey, patientId, ctx.tables.values()),
    recoverUser: async (authority, username, newPassword) =>
      recovery.recoverUser(ctx, credentialsOf(authority), username, newPassword),
    rotateAll: async (authority, options) =>
      rotation.rotateAll(ctx, credentialsOf(authority), options),
    setUpEmergencyAccess: async (authority) =>
      breakGlass.setUpEmergencyAccess(ctx, credentialsOf(authority)),
    revokeEmergencyKey: async (admin, userId) =>
      breakGlass.revokeEmergencyKey(ctx, unlockedUserOf(admin, 'admin'), userId),
    grantEmergencyKey: async (authority, userId) =>
      breakGlass.grantEmergencyKey(ctx, credentialsOf(authority), userId),
    rotateEmergencyKey: async (authority, options) =>
      emergencyRotation.rotateEmergencyKey(ctx, credentialsOf(authority), options),
    restorePatientAccess: async (authority, patientId, userId) =>
      recovery.restorePatientAccess(ctx, credentialsOf(authority), patientId, userId),
    convertPlaintextColumn: async (authority, table, options) =>
      convertPlaintext.convertPlaintextColumn(
        ctx,
        credentialsOf(authority),
        table,
        options,
      ),
    convertLegacyColumn: async (authority, table, options) =>
      convertLegacy.convertLegacyColumn(ctx, credentialsOf(authority), table, options),
    rebuildSearchIndexes: async (authority, options) =>
      reindex.rebuildSearchIndexes(ctx, credentialsOf(authority), options),
    dropPlaintextColumn: async (admin, table, column) =>
      dropPlaintext.dropPlaintextColumn(
        ctx,
        unlockedUserOf(admin, 'admin'),
        table,
        column,
      ),
  }
}
