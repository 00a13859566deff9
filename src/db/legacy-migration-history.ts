import type { Knex } from 'knex'
import type { MigrationError } from '../errors/index.js'
import { MIGRATIONS } from '../migrations/index.js'
import {
  ensureHistoryTables,
  HISTORY_LOCK_TABLE,
  HISTORY_TABLE,
  LEGACY_TABLE,
} from './migration-history.js'
import {
  historyInBothTables,
  recordedTwice,
  unknownMigrations,
} from './migration-problems.js'

// Earlier versions recorded emr-vault's migrations in knex's default table
// (LEGACY_TABLE) under the file names knex loaded: `20261129_0001_key_hierarchy.ts`
// when run from source, `.js` when built. That table may also hold an
// application's own rows, so it is read, never dropped, and only emr-vault's rows
// are moved out of it.

/** An old name: this release's naming, plus the extension of the file knex loaded. */
const OLD_NAME = /^(\d{8}_\d{4}_[a-z0-9_]+)\.(?:ts|js)$/

const KNOWN: ReadonlySet<string> = new Set(MIGRATIONS.map((m) => m.name))

export interface LegacyHistory {
  /** emr-vault's rows, in the order they ran, with the name they carry from now on. */
  readonly rows: readonly { readonly id: number; readonly name: string }[]
  /** Old names in emr-vault's form that this release does not have. */
  readonly unknown: readonly string[]
  /** Names recorded more than once (once as .ts and once as .js, say). */
  readonly duplicates: readonly string[]
}

const NONE: LegacyHistory = { rows: [], unknown: [], duplicates: [] }

/**
 * Picks emr-vault's rows out of knex_migrations. An application's own names may
 * happen to look like emr-vault's, so names in that form count as emr-vault's
 * only beside at least one this release knows; then an unknown one means a
 * history this release cannot account for, and is reported, not skipped.
 */
export function classifyLegacyRows(
  rows: readonly { readonly id: number; readonly name: string | null }[],
): LegacyHistory {
  const ours: { id: number; name: string }[] = []
  const unknown: string[] = []
  for (const row of rows) {
    const name = OLD_NAME.exec(row.name ?? '')?.[1]
    if (name === undefined) continue
    if (KNOWN.has(name)) ours.push({ id: Number(row.id), name })
    else unknown.push(String(row.name))
  }
  if (ours.length === 0) return NONE
  const times = new Map<string, number>()
  for (const r of ours) times.set(r.name, (times.get(r.name) ?? 0) + 1)
  const duplicates = [...times].filter(([, n]) => n > 1).map(([name]) => name)
  return { rows: ours, unknown, duplicates }
}

/** emr-vault's rows in knex_migrations, read (and with `lock`, locked) in `db`. */
export async function readLegacyHistory(db: Knex, lock = false): Promise<LegacyHistory> {
  if (!(await db.schema.hasTable(LEGACY_TABLE))) return NONE
  const query = db(LEGACY_TABLE).select('id', 'name').orderBy('id')
  const rows = (await (lock ? query.forUpdate() : query)) as {
    id: number
    name: string | null
  }[]
  return classifyLegacyRows(rows)
}

/** Why a legacy history cannot be carried over as it is, if it cannot. */
export function legacyHistoryProblem(legacy: LegacyHistory): MigrationError | undefined {
  if (legacy.unknown.length > 0) return unknownMigrations(legacy.unknown, LEGACY_TABLE)
  if (legacy.duplicates.length > 0) return recordedTwice(legacy.duplicates)
  return undefined
}

/**
 * Carries a history recorded by an earlier version over into emr-vault's own
 * table: the rows are copied with the extension stripped, keeping their batch
 * numbers (so a rollback undoes the same batch as before) and times, and deleted
 * from knex_migrations, in one transaction; no migration runs. Nothing else in
 * knex_migrations is touched and neither of knex's tables is dropped: the
 * application may use them.
 *
 * Processes starting at once queue on the lock row of emr-vault's history (knex's
 * migrator waits on the same row to take its lock), and each reads the old rows
 * again once it holds it, so the rows move once. Calling it again does nothing.
 *
 * @returns the names carried over; none when there was nothing to carry over.
 */
export async function carryOverLegacyHistory(db: Knex): Promise<string[]> {
  // Checked before anything is created: a refused history leaves the database as it was.
  const seen = await readLegacyHistory(db)
  if (seen.rows.length === 0) return []
  const refused = legacyHistoryProblem(seen)
  if (refused) throw refused
  await ensureHistoryTables(db)
  return db.transaction(async (trx) => {
    await trx(HISTORY_LOCK_TABLE).select('is_locked').forUpdate()
    const legacy = await readLegacyHistory(trx, true)
    if (legacy.rows.length === 0) return []
    const problem = legacyHistoryProblem(legacy)
    if (problem) throw problem
    const recorded = (await trx(HISTORY_TABLE).select('name').forUpdate()) as unknown[]
    if (recorded.length > 0) throw historyInBothTables(legacy.rows.map((r) => r.name))
    const ids = legacy.rows.map((r) => r.id)
    // Copied inside the server so the recorded times are kept to the second,
    // whatever time zone this connection uses. Every old name ends in a
    // three-character extension (OLD_NAME).
    await trx.raw(
      'INSERT INTO ?? (`name`, `batch`, `migration_time`) ' +
        'SELECT SUBSTRING(`name`, 1, CHAR_LENGTH(`name`) - 3), `batch`, `migration_time` ' +
        `FROM ?? WHERE \`id\` IN (${ids.map(() => '?').join(', ')}) ORDER BY \`id\``,
      [HISTORY_TABLE, LEGACY_TABLE, ...ids],
    )
    await trx(LEGACY_TABLE).whereIn('id', ids).delete()
    return legacy.rows.map((r) => r.name)
  })
}
