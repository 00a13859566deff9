import { randomBytes } from 'node:crypto'
import { migrateLatest } from '../../src/db/migrate.js'
import type { Knex } from 'knex'
import mysql from 'mysql2/promise'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import {
  createDb,
  createVault,
  DB_ENV,
  generateRecoveryKeyPair,
  isDbConfigured,
  type DbConfig,
  type Vault,
} from '../../src/index.js'
import { devDbConfig } from '../../src/testing/dev-database.js'

/** The bench's own database: created, migrated and dropped by the bench, never the dev one. */
export const BENCH_DATABASE = 'emr_vault_bench'

/** `emr_vault_bench` or `emr_vault_bench_<suffix>` (the test runs one of its own). */
const BENCH_NAME = /^emr_vault_bench(_[a-z0-9]{1,32})?$/

export function checkBenchDatabaseName(name: string): string {
  if (!BENCH_NAME.test(name)) {
    throw new Error(
      `--database must be ${BENCH_DATABASE} or ${BENCH_DATABASE}_<suffix> (got "${name}"): ` +
        'the bench drops it, so it refuses any other name',
    )
  }
  return name
}

/**
 * The server to run on: the one configured in the environment or `.env` (its
 * host, port and account; EMR_VAULT_DB_NAME is ignored), else the private local
 * server that devDbConfig starts. The database is always the bench's own.
 */
export async function benchServerConfig(
  database: string,
  log: (line: string) => void,
): Promise<DbConfig> {
  // devDbConfig reads the configured server with dbConfigFromEnv, which insists on a
  // database name; the bench never uses that database, so any name satisfies it.
  if (isDbConfigured() && !process.env[DB_ENV.database]) {
    process.env[DB_ENV.database] = database
  }
  const server = await devDbConfig(log)
  return { ...server, database: checkBenchDatabaseName(database) }
}

async function admin(config: DbConfig): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
  })
}

export async function serverVersion(config: DbConfig): Promise<string> {
  const conn = await admin(config)
  try {
    const [rows] = (await conn.query('SELECT VERSION() AS v')) as unknown as [
      { v: string }[],
    ]
    return rows[0]?.v ?? 'unknown'
  } finally {
    await conn.end()
  }
}

export async function dropBenchDatabase(config: DbConfig): Promise<void> {
  const name = checkBenchDatabaseName(config.database)
  const conn = await admin(config)
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
  } finally {
    await conn.end()
  }
}

/** What a scenario runs on: a freshly migrated bench database and a vault on it. */
export interface BenchDb {
  readonly db: Knex
  /** TEST_KDF_POLICY: cheap password hashing everywhere but the login scenario. */
  readonly vault: Vault
  readonly config: DbConfig
  readonly recovery: { publicKey: Buffer; privateKey: Buffer }
  readonly auditKey: Buffer
  readonly searchKey: Buffer
}

/**
 * Owns the bench database across scenarios: `fresh()` drops it, creates it
 * again with the real migrations, and hands out a new pool and vault, so every
 * scenario starts from empty tables (rotate-all walks every patient, and the
 * memory scenario counts audit rows).
 */
export class BenchDatabase {
  #current: Knex | undefined
  /** The run's search key: the bench never searches under another. */
  readonly searchKey = randomBytes(32)

  constructor(
    readonly config: DbConfig,
    readonly recovery: { publicKey: Buffer; privateKey: Buffer },
    readonly auditKey: Buffer,
  ) {}

  static create(config: DbConfig, auditKey: Buffer): BenchDatabase {
    return new BenchDatabase(config, generateRecoveryKeyPair(), auditKey)
  }

  async fresh(): Promise<BenchDb> {
    await this.close()
    await dropBenchDatabase(this.config)
    const conn = await admin(this.config)
    try {
      await conn.query(
        `CREATE DATABASE \`${checkBenchDatabaseName(this.config.database)}\` CHARACTER SET utf8mb4`,
      )
    } finally {
      await conn.end()
    }
    const db = createDb(this.config)
    this.#current = db
    await migrateLatest(db)
    const vault = createVault({
      db,
      recoveryPublicKey: this.recovery.publicKey,
      auditKey: this.auditKey,
      searchKey: this.searchKey,
      kdfPolicy: TEST_KDF_POLICY,
    })
    return {
      db,
      vault,
      config: this.config,
      recovery: this.recovery,
      auditKey: this.auditKey,
      searchKey: this.searchKey,
    }
  }

  async close(): Promise<void> {
    await this.#current?.destroy()
    this.#current = undefined
  }

  /** Closes the pool and drops the database. */
  async drop(): Promise<void> {
    await this.close()
    await dropBenchDatabase(this.config)
  }
}
