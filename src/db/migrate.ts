import { setTimeout as sleep } from 'node:timers/promises'
import type { Knex } from 'knex'
import { DatabaseError, VaultError } from '../errors/index.js'
import type { NamedMigration } from '../migrations/index.js'
import { carryOverLegacyHistory } from './legacy-migration-history.js'
import { ensureHistoryTables, historyLocked } from './migration-history.js'
import { lockHeld, migrationFailed, unknownMigrations } from './migration-problems.js'
import { emrVaultMigrations } from './migration-source.js'
import { readMigrationState } from './migration-state.js'

export interface MigrateResult {
  /** The batch the migrations were recorded under (the last one when none ran). */
  readonly batch: number
  /** The migrations this call ran, in order. */
  readonly applied: string[]
  /** Migrations recorded by an earlier version under their old names, recorded again without running. */
  readonly carriedOver: string[]
}

export interface RollbackResult {
  /** The batch undone (0 when there was none). */
  readonly batch: number
  /** The migrations undone, last first. */
  readonly undone: string[]
}

export interface MigrationStatus {
  /** Applied migrations in the order they ran. */
  readonly applied: string[]
  /** Migrations of this release not applied yet, in the order they would run. */
  readonly pending: string[]
}

export interface MigrateOptions {
  /**
   * How long to wait for another process's migration run to finish (several
   * instances of an application starting at once), in milliseconds. Default 60 s.
   */
  readonly lockTimeoutMs?: number
}

const DEFAULT_LOCK_TIMEOUT_MS = 60_000
const LOCK_POLL_MS = 250

/**
 * Settings of the caller's own knex configuration that would change how
 * emr-vault's migrations run or where their history goes, reset for these calls.
 */
const OWN_SETTINGS = {
  schemaName: undefined,
  disableTransactions: false,
  disableMigrationsListValidation: false,
  afterEach: undefined,
  afterAll: undefined,
} as unknown as Knex.MigratorConfigWithLifecycleHooks

/**
 * Applies every pending emr-vault migration, after carrying over a history that
 * an earlier version recorded under the old names. Safe to call from several
 * processes at once: the others wait for the one that runs them.
 */
export async function migrateLatest(
  db: Knex,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const carriedOver = await prepare(db)
  const [batch, applied] = await underLock(db, options, (config) =>
    db.migrate.latest(config),
  )
  return { batch, applied, carriedOver }
}

/** Undoes the last batch of emr-vault migrations. It drops their tables and all data in them. */
export async function migrateRollback(
  db: Knex,
  options: MigrateOptions = {},
): Promise<RollbackResult> {
  await prepare(db)
  const [batch, undone] = await underLock(db, options, (config) =>
    db.migrate.rollback(config),
  )
  return { batch, undone }
}

/** Which emr-vault migrations are applied and which are pending. Writes nothing. */
export async function migrationStatus(db: Knex): Promise<MigrationStatus> {
  const state = await readMigrationState(db).catch((err: unknown) => {
    throw translate(err, undefined)
  })
  if (state.problem) throw state.problem
  return { applied: state.applied, pending: state.pending }
}

/**
 * Refuses a history this release cannot account for before anything is
 * written, then carries an old one over and makes sure the tables exist.
 */
async function prepare(db: Knex): Promise<string[]> {
  try {
    const state = await readMigrationState(db)
    if (state.problem) throw state.problem
    const carriedOver = await carryOverLegacyHistory(db)
    await ensureHistoryTables(db)
    return carriedOver
  } catch (err) {
    throw translate(err, undefined)
  }
}

/**
 * Runs knex's migrator, waiting while another run holds the lock. knex itself
 * fails at once when the lock is taken, which would fail every instance of an
 * application but the first when they start together.
 */
async function underLock(
  db: Knex,
  options: MigrateOptions,
  run: (config: Knex.MigratorConfigWithLifecycleHooks) => Promise<[number, string[]]>,
): Promise<[number, string[]]> {
  const timeout = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const started = Date.now()
  let current: string | undefined
  const config: Knex.MigratorConfigWithLifecycleHooks = {
    ...OWN_SETTINGS,
    ...emrVaultMigrations,
    // Names the migration a failure happened in.
    beforeEach: (_db, migrations) => {
      current = (migrations[0] as NamedMigration | undefined)?.name
      return Promise.resolve()
    },
  }
  for (;;) {
    try {
      if (!(await historyLocked(db))) {
        const [batch, names] = await run(config)
        return [Number(batch), [...names]]
      }
    } catch (err) {
      // Another process took the lock between the check and knex's own attempt.
      if (!(err instanceof Error && err.name === 'MigrationLocked'))
        throw translate(err, current)
    }
    const waited = Date.now() - started
    if (waited >= timeout) throw lockHeld(waited)
    await sleep(Math.min(LOCK_POLL_MS, timeout - waited))
  }
}

/**
 * A typed error for whatever knex or the driver threw. A driver error keeps only
 * its codes, as everywhere in emr-vault: the server's message can quote values.
 */
function translate(err: unknown, migration: string | undefined): Error {
  if (err instanceof VaultError) return err
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown
    errno?: unknown
    sqlState?: unknown
    message?: unknown
  }
  const message = typeof e.message === 'string' ? e.message : ''
  // knex's own check, should the history change between ours and its.
  const corrupt =
    /^The migration directory is corrupt, the following files are missing: (.*)$/.exec(
      message,
    )
  if (corrupt) return unknownMigrations(corrupt[1]!.split(', '))
  if (typeof e.code === 'string') {
    return new DatabaseError(
      {
        driverCode: e.code,
        errno: typeof e.errno === 'number' ? e.errno : undefined,
        sqlState: typeof e.sqlState === 'string' ? e.sqlState : undefined,
        constraint: undefined,
      },
      migration === undefined ? 'migration' : `migration ${migration}`,
    )
  }
  return migrationFailed(migration, message.split('\n')[0] || 'no reason given')
}
