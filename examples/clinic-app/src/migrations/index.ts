import { readFileSync } from 'node:fs'
import knex, { type Knex } from 'knex'
import { migrateLatest, type DbConfig } from 'emr-vault'
import * as clinicTables from './20261202120000_clinic_tables.js'

/**
 * The clinic's migrations: a fixed list, in order (a name never changes once
 * deployed). They run after emr-vault's, which make `patients` and the catalog
 * of declared tables that createEncryptedTable writes to.
 */
const MIGRATIONS: readonly { name: string; migration: Knex.Migration }[] = [
  { name: '20261202120000_clinic_tables', migration: clinicTables },
]

/** The clinic's history stays in knex's own `knex_migrations`, apart from emr-vault's. */
export const clinicMigrations: Knex.MigratorConfig = {
  migrationSource: {
    getMigrations: () => Promise.resolve([...MIGRATIONS]),
    getMigrationName: (m: (typeof MIGRATIONS)[number]) => m.name,
    getMigration: (m: (typeof MIGRATIONS)[number]) => Promise.resolve(m.migration),
  },
}

/**
 * A knex instance of the clinic's own for its migrations: the one createDb()
 * returns carries emr-vault's migration settings.
 */
export function migrationKnex(config: DbConfig): Knex {
  return knex({
    client: 'mysql2',
    connection: {
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: config.database,
      ...(config.sslCa
        ? { ssl: { ca: readFileSync(config.sslCa, 'utf8'), rejectUnauthorized: true } }
        : {}),
    },
    pool: { min: 0, max: 1 },
    migrations: clinicMigrations,
  })
}

/** emr-vault's migrations, then the clinic's; returns the clinic migrations this run applied. */
export async function migrateClinic(db: Knex, config: DbConfig): Promise<string[]> {
  await migrateLatest(db)
  const own = migrationKnex(config)
  try {
    const [, applied] = (await own.migrate.latest()) as [number, string[]]
    return applied
  } finally {
    await own.destroy()
  }
}
