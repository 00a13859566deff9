import type { Knex } from 'knex'
import { VaultError } from '../errors/index.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { APP_ACCOUNT, WATCHING_ACCOUNTS, accountChecks } from './doctor-accounts.js'
import { AUDIT_PLUGINS, auditPluginsCheck } from './doctor-audit-plugins.js'
import type { CheckLine, PostureCheck } from './doctor-check.js'
import { DECLARED_TABLES, declaredTablesCheck } from './doctor-declared-tables.js'
import { diagnosticsChannelsCheck } from './doctor-diagnostics-channels.js'
import { EMERGENCY_KEY, emergencyKeyCheck } from './doctor-emergency-key.js'
import {
  BINLOG_FORMAT,
  BINLOG_QUERY_EVENTS,
  GENERAL_LOG,
  SLOW_QUERY_LOG,
  binlogFormatCheck,
  binlogQueryEventsCheck,
  deadlockLogCheck,
  DEADLOCK_LOG,
  generalLogCheck,
  slowQueryLogCheck,
} from './doctor-logs.js'
import { recoveryKeyCheck } from './doctor-recovery-key.js'
import { SCHEMA_VERSION, schemaCheck } from './doctor-schema.js'
import { BLOCK_ENCRYPTION_MODE, blockEncryptionModeCheck } from './doctor-mode.js'
import {
  PRIMARY_KEY,
  SERVER_VERSION,
  primaryKeyCheck,
  serverVersionCheck,
} from './doctor-server.js'
import { readServerFacts, type ServerFacts } from './doctor-server-facts.js'
import { TLS, transportCheck } from './doctor-transport.js'
import { USER_KEY_CERTIFICATES, userKeyCertificatesCheck } from './doctor-user-keys.js'

export { worstStatus, type CheckStatus, type PostureCheck } from './doctor-check.js'

export interface DoctorOptions {
  /**
   * The application's MySQL account (`user@host`, as CURRENT_USER() writes it);
   * default CURRENT_USER(). Pass it when a DBA account runs the doctor, so the
   * grant tables can be read and the application's account told apart.
   */
  readonly appUser?: string
  /** The deployment's recovery public key (32 bytes); the line WARNs without it. */
  readonly recoveryPublicKey?: Buffer
  /**
   * Production mode turns these WARNs into FAILs: `slow_query_log` (on, with a
   * threshold of 1 s or more), `watching_accounts` (other accounts with PROCESS,
   * SUPER, SYSTEM_VARIABLES_ADMIN or SELECT on performance_schema.threads) and
   * `app_account_privileges`. Default: `process.env.NODE_ENV === 'production'`.
   */
  readonly production?: boolean
  /**
   * The application's declared tables (the vault's registry). Their envelope
   * columns count as covered besides those in the catalog of declared tables.
   */
  readonly tables?: readonly TableDeclaration[]
}

/** The default of `production` for runDoctor and openVault. */
export function productionFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'production'
}

/**
 * Why a check could not run, from codes and the layer's own messages only. The
 * doctor's statements bind no key, but a driver message is not ours to vouch for.
 */
function reason(err: unknown): string {
  if (err instanceof VaultError) return err.message
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string'
    ? code
    : err instanceof Error
      ? err.name
      : 'unknown error'
}

/** Runs `run`; if it throws, each of `checks` FAILs (it could not be verified). */
async function guarded(
  checks: readonly CheckLine[],
  run: () => PostureCheck | PostureCheck[] | Promise<PostureCheck | PostureCheck[]>,
): Promise<PostureCheck[]> {
  try {
    return [await run()].flat()
  } catch (err) {
    return checks.map((check) =>
      check.fail(
        `Could not be checked: ${reason(err)}.`,
        'Make the server reachable with the configured account, then run the doctor again.',
      ),
    )
  }
}

/**
 * The `block_encryption_mode` line alone (doctor-mode.ts), as runDoctor reports
 * it: what openVault checks on every pool, production mode or not.
 */
export async function runModeCheck(db: Knex): Promise<PostureCheck[]> {
  return guarded([BLOCK_ENCRYPTION_MODE], () => blockEncryptionModeCheck(db))
}

/**
 * The posture check of docs/threat-model.md: one line per setting, privilege or process
 * condition through which keys bound to statements could leak, plus the server,
 * schema and recovery-key prerequisites. Read-only on the server (its only SETs
 * are of block_encryption_mode in one session, put back as they were found). The
 * PASS/WARN/FAIL rules are documented beside each check: doctor-server.ts,
 * doctor-mode.ts, doctor-logs.ts,
 * doctor-audit-plugins.ts, doctor-accounts.ts (privileges: doctor-grants.ts),
 * doctor-transport.ts, doctor-schema.ts, doctor-declared-tables.ts, doctor-user-keys.ts,
 * doctor-recovery-key.ts, doctor-diagnostics-channels.ts.
 *
 * Never throws for a check that cannot run: that check reports FAIL with the
 * error's code.
 */
export async function runDoctor(
  db: Knex,
  options: DoctorOptions = {},
): Promise<PostureCheck[]> {
  const production = options.production ?? productionFromEnv()
  const facts = await readServerFacts(db).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
  const needFacts = (): ServerFacts => {
    if ('error' in facts) throw facts.error
    return facts.value
  }
  const lines = [
    await guarded([SERVER_VERSION], () => serverVersionCheck(needFacts())),
    await runModeCheck(db),
    await guarded([GENERAL_LOG], () => generalLogCheck(needFacts())),
    await guarded([DEADLOCK_LOG], () => deadlockLogCheck(needFacts())),
    await guarded([SLOW_QUERY_LOG], () => slowQueryLogCheck(needFacts(), production)),
    await guarded([BINLOG_FORMAT], () => binlogFormatCheck(needFacts())),
    await guarded([BINLOG_QUERY_EVENTS], () => binlogQueryEventsCheck(needFacts())),
    await guarded([AUDIT_PLUGINS], () => auditPluginsCheck(db)),
    await guarded([WATCHING_ACCOUNTS, APP_ACCOUNT], () =>
      accountChecks(db, needFacts(), options.appUser, production),
    ),
    await guarded([TLS], () => transportCheck(db)),
    await guarded([PRIMARY_KEY], () => primaryKeyCheck(needFacts())),
    await guarded([SCHEMA_VERSION], () => schemaCheck(db)),
    await guarded([DECLARED_TABLES], () => declaredTablesCheck(db, options.tables)),
    await guarded([USER_KEY_CERTIFICATES], () => userKeyCertificatesCheck(db)),
    await guarded([EMERGENCY_KEY], () => emergencyKeyCheck(db)),
    [recoveryKeyCheck(options.recoveryPublicKey)],
    [diagnosticsChannelsCheck()],
  ]
  return lines.flat()
}
