import type { Knex } from 'knex'
import { dbConfigFromEnv, knexConfig } from './src/db/index.js'
import { devDbConfig } from './src/testing/dev-database.js'

/**
 * knex CLI configuration (`npm run migrate`, `migrate:rollback`, `seed`).
 *
 * development and test: the server named by EMR_VAULT_DB_* (environment or .env),
 * else the private local MySQL, started on demand. production: only a configured
 * server; nothing is ever started for it.
 */
export default async function knexfile(): Promise<Record<string, Knex.Config>> {
  const seeds = {
    directory: new URL('./seeds', import.meta.url).pathname,
    loadExtensions: ['.ts'],
  }
  if (process.env['NODE_ENV'] === 'production') {
    return { production: { ...knexConfig(dbConfigFromEnv()), seeds } }
  }
  const local = { ...knexConfig(await devDbConfig((line) => console.error(line))), seeds }
  return {
    development: local,
    test: local,
  }
}
