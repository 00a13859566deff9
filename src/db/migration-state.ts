import type { Knex } from 'knex'
import { MIGRATIONS } from '../migrations/index.js'
import { legacyHistoryProblem, readLegacyHistory } from './legacy-migration-history.js'
import { readHistoryNames } from './migration-history.js'
import { historyInBothTables, unknownMigrations } from './migration-problems.js'
import type { MigrationError } from '../errors/index.js'

/** Where a database records emr-vault's history. */
export type HistoryLocation =
  /** emr-vault's own table. */
  | 'emr_vault_migrations'
  /** knex's default table under the old file names: the next migrate carries it over. */
  | 'knex_migrations'
  /** Nowhere: nothing has been migrated. */
  | 'none'

export interface MigrationState {
  readonly recordedIn: HistoryLocation
  /** Applied migrations in the order they ran, by their current names. */
  readonly applied: string[]
  /** This release's migrations not applied yet, in the order they would run. */
  readonly pending: string[]
  /** Why the history cannot be used as it is (unknown or doubly recorded names). */
  readonly problem: MigrationError | undefined
}

/**
 * The database's emr-vault history against this release's migrations, read
 * without writing anything (knex's own listing creates its tables first), so
 * that a status or a posture check on a database nobody migrated leaves it
 * untouched. A history still under the old names counts as applied: the next
 * migrate records it again without running it.
 */
export async function readMigrationState(db: Knex): Promise<MigrationState> {
  const [names, legacy] = await Promise.all([readHistoryNames(db), readLegacyHistory(db)])
  const own = names ?? []
  let recordedIn: HistoryLocation = own.length > 0 ? 'emr_vault_migrations' : 'none'
  let applied = own
  let problem = legacyHistoryProblem(legacy)
  if (legacy.rows.length > 0) {
    if (own.length > 0) {
      problem ??= historyInBothTables(legacy.rows.map((r) => r.name))
    } else {
      recordedIn = 'knex_migrations'
      applied = legacy.rows.map((r) => r.name)
    }
  }
  const known = new Set(MIGRATIONS.map((m) => m.name))
  const unknown = applied.filter((name) => !known.has(name))
  if (unknown.length > 0) problem ??= unknownMigrations(unknown)
  const done = new Set(applied)
  return {
    recordedIn,
    applied,
    pending: MIGRATIONS.map((m) => m.name).filter((name) => !done.has(name)),
    problem,
  }
}
