import type { Knex } from 'knex'
import { MIGRATIONS, type NamedMigration } from '../migrations/index.js'
import { readLegacyHistory } from './legacy-migration-history.js'
import { HISTORY_TABLE } from './migration-history.js'
import { historyNotCarriedOver } from './migration-problems.js'

/** knex's CLI prints a pending migration's `file`, as its directory source gives one. */
interface ListedMigration extends NamedMigration {
  readonly file: string
}

/**
 * emr-vault's migrations for knex, from the static list: no directory is read,
 * so the names are the same from source and built, and no .d.ts or .map file
 * can be taken for a migration.
 */
export const migrationSource: Knex.MigrationSource<ListedMigration> = {
  getMigrations: () => Promise.resolve(MIGRATIONS.map((m) => ({ ...m, file: m.name }))),
  getMigrationName: (m) => m.name,
  getMigration: (m) => Promise.resolve(m.migration),
}

/**
 * knex runs migrations by itself when it is given this configuration (the knex
 * CLI through a knexfile), so it cannot carry over a history kept under the old
 * names first; it would find nothing applied and create tables that exist. This
 * stops it before the first migration with what to do instead.
 */
async function refuseUncarriedHistory(db: Knex): Promise<void> {
  if ((await readLegacyHistory(db)).rows.length > 0) throw historyNotCarriedOver()
}

/**
 * The `migrations` settings of a knex configuration that runs emr-vault's
 * migrations, e.g. a knexfile for the knex CLI:
 * `{ ...knexConfig, migrations: emrVaultMigrations }`. createDb() uses it too.
 * An application's own migrations keep their own configuration and knex's default
 * table. Unlike migrateLatest(), knex on its own does not carry over a history
 * recorded by earlier versions; it refuses such a database instead.
 */
export const emrVaultMigrations: Readonly<Knex.MigratorConfigWithLifecycleHooks> =
  Object.freeze({
    migrationSource,
    tableName: HISTORY_TABLE,
    beforeAll: refuseUncarriedHistory,
  })
