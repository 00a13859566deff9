import mysql from 'mysql2/promise'
import type { Knex } from 'knex'
import { createDb, dbConfigFromEnv, type DbConfig } from '../../src/db/index.js'

/**
 * Connection settings of this test run. The global fixture (global-fixture.ts)
 * fills the environment before any test file runs: a local server it started, or
 * the one configured in the environment, and a fresh database for the run.
 */
export function testDbConfig(): DbConfig {
  return dbConfigFromEnv()
}

let shared: Knex | undefined

/** The knex instance tests share (pool with the emr-vault session settings). */
export function testDb(): Knex {
  shared ??= createDb(testDbConfig())
  return shared
}

export async function destroyTestDb(): Promise<void> {
  await shared?.destroy()
  shared = undefined
}

/**
 * A separate plain connection, as a DBA or an attacker with SELECT would have:
 * used to read performance_schema and raw tables from outside the pool.
 */
export async function observerConnection(): Promise<mysql.Connection> {
  const c = testDbConfig()
  return mysql.createConnection({
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
  })
}
