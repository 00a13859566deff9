import { readFileSync } from 'node:fs'
import knex, { type Knex } from 'knex'
import { ConfigurationError } from '../errors/index.js'
import type { DbConfig } from './db-config.js'
import { emrVaultMigrations } from './migration-source.js'
import { setupSession, type SetupConnection } from './session-setup.js'

const DROPPED_WARNINGS = [
  'Acquire connection error',
  "Can't take lock to run migrations",
  'If you are sure migrations are not running',
  'migration failed with error',
  'migration file "',
]

/** 127.0.0.0/8, ::1 and localhost: the statement never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/**
 * knex configuration for emr-vault. `compileSqlOnError: false` keeps knex from
 * interpolating bindings into its error messages (knex #5497, PR #5282); statements
 * that carry keys or PHI do not go through knex's execution at all (sql/prepared.ts).
 */
export function knexConfig(config: DbConfig): Knex.Config {
  // Keys and patient data are statement parameters: off this machine they must
  // travel under TLS with a verified certificate (HIPAA 164.312(e)).
  if (!isLoopbackHost(config.host) && !config.sslCa && !config.allowInsecureTransport) {
    throw new ConfigurationError(
      `${config.host} is not a loopback address: set EMR_VAULT_DB_SSL_CA to the server's CA ` +
        'certificate (TLS is then required and verified), or EMR_VAULT_DB_ALLOW_INSECURE_TRANSPORT=yes ' +
        'to accept sending keys in clear on this network',
    )
  }
  return {
    client: 'mysql2',
    connection: {
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: config.database,
      // knex also uses this as the default charset of tables it creates.
      charset: 'utf8mb4',
      timezone: 'Z',
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: false,
      ...(config.sslCa
        ? { ssl: { ca: readFileSync(config.sslCa, 'utf8'), rejectUnauthorized: true } }
        : {}),
    },
    pool: {
      min: 0,
      max: config.poolMax ?? 10,
      afterCreate(
        conn: SetupConnection,
        done: (err: Error | null, conn: unknown) => void,
      ) {
        setupSession(conn).then(
          () => done(null, conn),
          (err: Error) => done(err, conn),
        )
      },
    },
    compileSqlOnError: false,
    // knex logs a failed connection attempt with its stack ("Acquire connection
    // error"), and a failed or locked migration run, before it rejects with the
    // same error; the caller gets that error (the migration calls turn it into a
    // typed one and wait out the lock), so those lines are dropped. Other
    // warnings keep their first line.
    log: {
      warn: (message: unknown) => {
        const line = String(message).split('\n')[0] ?? ''
        if (!DROPPED_WARNINGS.some((start) => line.startsWith(start)))
          process.emitWarning(line, 'KnexWarning')
      },
    },
    // emr-vault's own migrations and history table, so db.migrate.* on this
    // instance (and the knex CLI through a knexfile built on it) see what
    // migrateLatest() sees.
    migrations: emrVaultMigrations,
  }
}

/** Creates the knex instance (and its pool) the repositories and services run on. */
export function createDb(config: DbConfig): Knex {
  return knex(knexConfig(config))
}
