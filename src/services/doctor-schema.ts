import type { Knex } from 'knex'
import { line, type PostureCheck } from './doctor-check.js'

/**
 * Schema at the latest migration of this code: FAIL when none is applied, when
 * one is pending (the code expects tables or columns the database lacks), or
 * when the database has migrations this code does not know (older code on a
 * newer schema; knex's own list validation finds those). Read-only: knex's list() would create the migrations tables on
 * a fresh database, so their existence is checked first.
 */

const FIX =
  'Run the migrations (npm run migrate, or db.migrate.latest()) with this release.'

/** A pending migration as knex's default file source lists it. */
function migrationName(migration: unknown): string {
  if (typeof migration === 'string') return migration
  const file = (migration as { file?: unknown; name?: unknown } | null) ?? {}
  return String(file.file ?? file.name ?? '?')
}

export const SCHEMA_VERSION = line('schema_version', 'Schema at the latest migration')

export async function schemaCheck(db: Knex): Promise<PostureCheck> {
  const check = SCHEMA_VERSION
  const config = (db.client.config as Knex.Config).migrations ?? {}
  const tableName = config.tableName ?? 'knex_migrations'
  const [hasTable, hasLock] = await Promise.all([
    db.schema.hasTable(tableName),
    db.schema.hasTable(`${tableName}_lock`),
  ])
  if (!hasTable || !hasLock) {
    return check.fail(`No migration has been applied (no ${tableName} table).`, FIX)
  }
  let completed: { name: string }[]
  let pending: unknown[]
  try {
    ;[completed, pending] = (await db.migrate.list()) as [{ name: string }[], unknown[]]
  } catch (err) {
    // knex's own list validation: applied migrations whose files are missing.
    const message = err instanceof Error ? err.message : ''
    if (!message.startsWith('The migration directory is corrupt')) throw err
    return check.fail(
      `The database has migrations this code does not know (${message.replace(/^[^:]*: /, '')}).`,
      'Deploy the release that wrote them: this code is older than the schema.',
    )
  }
  if (completed.length === 0) {
    return check.fail(`No migration has been applied (${tableName} is empty).`, FIX)
  }
  if (pending.length > 0) {
    return check.fail(
      `${pending.length} migration(s) pending: ${pending.map(migrationName).join(', ')}.`,
      FIX,
    )
  }
  const latest = completed[completed.length - 1]?.name ?? ''
  return check.pass(
    `${completed.length} migrations applied, none pending; latest ${latest}.`,
  )
}
