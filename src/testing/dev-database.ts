import dotenv from 'dotenv'
import { dbConfigFromEnv, isDbConfigured, type DbConfig } from '../db/db-config.js'
import { startLocalMysql } from './index.js'
import { engineFromEnv } from './local-db/engines.js'

/** Database the local server uses for development, the demo and the knex CLI. */
export const LOCAL_DATABASE = 'emr_vault'

/**
 * Connection settings for development tools: the server configured in the
 * environment or `.env` if there is one (nothing is started), else the private
 * local server, started if needed, with its `emr_vault` database created.
 */
export async function devDbConfig(
  log: (line: string) => void = () => {},
): Promise<DbConfig> {
  dotenv.config({ quiet: true })
  if (isDbConfigured()) return dbConfigFromEnv()
  const { host, port, user, password, database } = await startLocalMysql({
    engine: engineFromEnv(),
    log,
    database: LOCAL_DATABASE,
  })
  return { host, port, user, password, database }
}
