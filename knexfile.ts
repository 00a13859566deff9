import type { Knex } from 'knex'
import { dbConfigFromEnv, knexConfig } from './src/db/index.js'
import { devDbConfig } from './src/testing/dev-database.js'

/**
 * knex CLI configuration for developers (`npx knex migrate:status`, …). It runs
 * emr-vault's migrations from the same static list and history table
 * (emr_vault_migrations) as `emr-vault migrate` and migrateLatest(), so either
 * way sees the other's work. knex alone does not carry over a history recorded
 * under the old file names: on such a database it stops and says to run
 * `emr-vault migrate` (`npm run migrate` in a clone) once. New migrations are added to src/migrations/index.ts by
 * hand (knex's migrate:make writes into a directory this source does not read).
 *
 * development and test: the server named by EMR_VAULT_DB_* (environment or .env),
 * else the private local MySQL, started on demand. production: only a configured
 * server; nothing is ever started for it.
 */
export default async function knexfile(): Promise<Record<string, Knex.Config>> {
  if (process.env['NODE_ENV'] === 'production') {
    return { production: knexConfig(dbConfigFromEnv()) }
  }
  const local = knexConfig(await devDbConfig((line) => console.error(line)))
  return {
    development: local,
    test: local,
  }
}
