import { MigrationError } from '../errors/index.js'
import { HISTORY_LOCK_TABLE, HISTORY_TABLE, LEGACY_TABLE } from './migration-history.js'

// The errors of emr-vault's migration calls, worded once for the library, the
// command line and the posture check. Only table and migration names go in them.

/**
 * Names read back from a history table, fit to print: whoever can write that
 * table could otherwise put terminal escapes or forged lines into a DBA's
 * terminal and the logs. A name not shaped like a migration's is replaced.
 */
function printable(names: readonly string[]): string[] {
  return names.map((name) =>
    /^[0-9]{8}_[0-9]{4}_[a-z0-9_]{1,80}(\.(ts|js))?$/.test(name)
      ? name
      : '(malformed name)',
  )
}

export function unknownMigrations(
  names: readonly string[],
  table = HISTORY_TABLE,
): MigrationError {
  return new MigrationError(
    'unknown-migrations',
    `${table} records emr-vault migrations this release does not have ` +
      `(${printable(names).join(', ')}): a newer release migrated this database; run that ` +
      'release or a later one',
    printable(names),
  )
}

export function recordedTwice(names: readonly string[]): MigrationError {
  return new MigrationError(
    'history-conflict',
    `${LEGACY_TABLE} records these emr-vault migrations twice, under two file names: ` +
      `${printable(names).join(', ')}. Check the schema and delete the extra rows by hand`,
    printable(names),
  )
}

export function historyInBothTables(names: readonly string[]): MigrationError {
  return new MigrationError(
    'history-conflict',
    `emr-vault's migrations are recorded both in ${HISTORY_TABLE} and, under their old ` +
      `names, in ${LEGACY_TABLE} (${printable(names).join(', ')}); this release cannot tell which is ` +
      'right. Check the schema and delete the stale rows by hand',
    printable(names),
  )
}

export function historyNotCarriedOver(): MigrationError {
  return new MigrationError(
    'legacy-history',
    `this database records emr-vault's migrations in ${LEGACY_TABLE} under their old ` +
      'file names; run emr-vault migrate (or migrateLatest(db)) once to carry them ' +
      `over into ${HISTORY_TABLE}`,
  )
}

export function lockHeld(waitedMs: number): MigrationError {
  return new MigrationError(
    'locked',
    `another process has held the emr-vault migration lock for ${Math.round(waitedMs / 1000)} s ` +
      '(a migration is running, or one was killed while it ran). If none is running, ' +
      `release it with: UPDATE ${HISTORY_LOCK_TABLE} SET is_locked = 0`,
  )
}

export function migrationFailed(
  name: string | undefined,
  reason: string,
): MigrationError {
  return new MigrationError(
    'failed',
    `migration ${name ?? '(before the first one)'} failed: ${reason}`,
    name === undefined ? [] : [name],
  )
}
