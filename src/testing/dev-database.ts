import dotenv from 'dotenv'
import mysql from 'mysql2/promise'
import { dbConfigFromEnv, isDbConfigured, type DbConfig } from '../db/index.js'
import { engineFromEnv, startLocalServer } from './local-db/index.js'

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
  const server = await startLocalServer({ engine: engineFromEnv(), log })
  const admin = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
  })
  try {
    await admin.query(
      `CREATE DATABASE IF NOT EXISTS \`${LOCAL_DATABASE}\` CHARACTER SET utf8mb4`,
    )
  } finally {
    await admin.end()
  }
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: LOCAL_DATABASE,
  }
}
