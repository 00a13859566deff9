import { migrateLatest } from '../../src/db/migrate.js'
import { randomBytes } from 'node:crypto'
import dotenv from 'dotenv'
import mysql from 'mysql2/promise'
import { createDb, DB_ENV, isDbConfigured } from '../../src/db/index.js'
import { startLocalMysql, type LocalMysql } from '../../src/testing/index.js'
import { engineFromEnv } from '../../src/testing/local-db/engines.js'
import { destroyTestDb, testDbConfig } from './test-env.js'

/**
 * Mocha global fixture: finds a server (the configured one, else a private local
 * MySQL/MariaDB it starts), creates a fresh database for this run, migrates it
 * with the real migrations, and undoes all of that at the end.
 */

/** The local server, if this run started it (one left running by others stays up). */
let startedServer: LocalMysql | undefined
let databaseName: string | undefined

async function adminConnection(): Promise<mysql.Connection> {
  const c = testDbConfig()
  return mysql.createConnection({
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
  })
}

export async function mochaGlobalSetup(): Promise<void> {
  dotenv.config({ quiet: true })
  if (!isDbConfigured()) {
    const server = await startLocalMysql({
      engine: engineFromEnv(),
      log: (line) => console.log(`  [db] ${line}`),
    })
    if (server.started) startedServer = server
    console.log(
      `  [db] local ${server.engine} ${server.version} on ${server.host}:${server.port}`,
    )
    process.env[DB_ENV.host] = server.host
    process.env[DB_ENV.port] = String(server.port)
    process.env[DB_ENV.user] = server.user
    process.env[DB_ENV.password] = server.password
  }
  databaseName = `emr_vault_test_${randomBytes(4).toString('hex')}`
  process.env[DB_ENV.database] = databaseName
  const admin = await adminConnection()
  try {
    await admin.query(`CREATE DATABASE \`${databaseName}\` CHARACTER SET utf8mb4`)
  } finally {
    await admin.end()
  }
  const db = createDb(testDbConfig())
  try {
    await migrateLatest(db)
  } finally {
    await db.destroy()
  }
}

export async function mochaGlobalTeardown(): Promise<void> {
  await destroyTestDb()
  if (databaseName) {
    const admin = await adminConnection()
    try {
      await admin.query(`DROP DATABASE IF EXISTS \`${databaseName}\``)
    } finally {
      await admin.end()
    }
  }
  await startedServer?.stop()
}
