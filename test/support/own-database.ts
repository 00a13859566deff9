import { migrateLatest } from '../../src/db/migrate.js'
import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import mysql from 'mysql2/promise'
import { createDb, DB_ENV } from '../../src/db/index.js'
import { testDb, testDbConfig } from './test-env.js'

/** A database a suite has to itself, made by {@link useOwnDatabase}. */
export interface OwnDatabase {
  /** Its knex instance (the emr-vault pool settings); valid from the suite's first hook. */
  db(): Knex
  /** Its name, e.g. for a child process's EMR_VAULT_DB_NAME. */
  name(): string
}

async function admin<T>(work: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = testDbConfig()
  const connection = await mysql.createConnection({
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
  })
  try {
    return await work(connection)
  } finally {
    await connection.end()
  }
}

/**
 * Gives the calling `describe` a fresh database of its own on the run's server,
 * migrated with the real migrations, and drops it after the suite.
 *
 * For suites whose outcome would otherwise depend on what other test files left
 * in the run's shared database: those that act on every patient (rotate-all,
 * emergency set-up), set deployment-wide state (the emergency key, rotation
 * runs) or read the whole audit chain and count on what is in it. On their own
 * database they see only what they made, pass alone and in any order, and do
 * not rotate or seal other suites' patients.
 *
 * Call it first in the `describe` body: its `before` hook then runs before the
 * suite's own. With `env: true` the suite's database is also the one named in
 * the environment (EMR_VAULT_DB_NAME) while the suite runs, for child processes
 * such as the CLI's; the previous value comes back afterwards.
 */
export function useOwnDatabase(options: { env?: boolean } = {}): OwnDatabase {
  let db: Knex | undefined
  let name: string | undefined
  let savedEnv: string | undefined

  before(async function () {
    this.timeout(120_000)
    name = `emr_vault_suite_${randomBytes(4).toString('hex')}`
    const created = name
    await admin((c) => c.query(`CREATE DATABASE \`${created}\` CHARACTER SET utf8mb4`))
    db = createDb({ ...testDbConfig(), database: name })
    await migrateLatest(db)
    if (options.env) {
      // The run's shared pool is made lazily from the environment: make it now,
      // so that it stays on the run's database while the variable names this one.
      testDb()
      savedEnv = process.env[DB_ENV.database]
      process.env[DB_ENV.database] = name
    }
  })

  after(async function () {
    this.timeout(60_000)
    if (options.env) {
      if (savedEnv === undefined) delete process.env[DB_ENV.database]
      else process.env[DB_ENV.database] = savedEnv
    }
    await db?.destroy()
    db = undefined
    if (name) {
      const dropped = name
      await admin((c) => c.query(`DROP DATABASE IF EXISTS \`${dropped}\``))
    }
  })

  return {
    db() {
      if (!db)
        throw new Error("useOwnDatabase: the database exists from the suite's first hook")
      return db
    },
    name() {
      if (!name)
        throw new Error("useOwnDatabase: the database exists from the suite's first hook")
      return name
    },
  }
}
