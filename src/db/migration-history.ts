import type { Knex } from 'knex'

/**
 * emr-vault's migration history: its own table, not knex's default
 * `knex_migrations`, so that an application's own knex migrations in the same
 * database keep theirs apart and neither side sees the other's names as missing
 * files. The lock table follows knex's convention (`<table>_lock`), so knex's
 * migrator uses both as if it had made them.
 */
export const HISTORY_TABLE = 'emr_vault_migrations'
export const HISTORY_LOCK_TABLE = `${HISTORY_TABLE}_lock`

/** knex's default table, where earlier versions recorded emr-vault's history too. */
export const LEGACY_TABLE = 'knex_migrations'

/**
 * Creates the history and lock tables, with the columns knex gives them, unless
 * they exist. knex checks and then creates, so two processes starting on a new
 * database at once would make one of them fail; IF NOT EXISTS lets both through.
 * The lock row is written with a fixed key for the same reason: two rows would
 * read as "locked" to knex for ever.
 */
export async function ensureHistoryTables(db: Knex): Promise<void> {
  await db.raw(
    'CREATE TABLE IF NOT EXISTS ?? (`id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, ' +
      '`name` VARCHAR(255), `batch` INT, `migration_time` TIMESTAMP NULL) ENGINE=InnoDB',
    [HISTORY_TABLE],
  )
  await db.raw(
    'CREATE TABLE IF NOT EXISTS ?? (`index` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, ' +
      '`is_locked` INT) ENGINE=InnoDB',
    [HISTORY_LOCK_TABLE],
  )
  // knex's forceFreeMigrationsLock re-inserts the row under a new key: any row will do.
  if ((await db(HISTORY_LOCK_TABLE).first('index')) === undefined) {
    await db(HISTORY_LOCK_TABLE).insert({ index: 1, is_locked: 0 }).onConflict().ignore()
  }
}

/** The names recorded in emr-vault's own history, in the order they ran; undefined without the table. */
export async function readHistoryNames(db: Knex): Promise<string[] | undefined> {
  if (!(await db.schema.hasTable(HISTORY_TABLE))) return undefined
  const rows = (await db(HISTORY_TABLE).select('name').orderBy('id')) as {
    name: string | null
  }[]
  return rows.map((r) => String(r.name))
}

/** Whether a migration run holds the lock now (or a killed one left it set). */
export async function historyLocked(db: Knex): Promise<boolean> {
  const row = (await db(HISTORY_LOCK_TABLE).max({ locked: 'is_locked' }).first()) as
    { locked: number | string | null } | undefined
  return Number(row?.locked ?? 0) > 0
}
