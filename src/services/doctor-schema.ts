import type { Knex } from 'knex'
import { readMigrationState } from '../db/migration-state.js'
import { line, type PostureCheck } from './doctor-check.js'

/**
 * Schema at the latest migration of this code: FAIL when none is applied, when
 * one is pending (the code expects tables or columns the database lacks), or
 * when the history names migrations this code does not know (older code on a
 * newer schema) or is recorded twice. Read-only: a posture check must not create
 * the history tables on a database nobody has migrated.
 */

const FIX =
  'Run the migrations (emr-vault migrate, or migrateLatest(db)) with this release.'

export const SCHEMA_VERSION = line('schema_version', 'Schema at the latest migration')

export async function schemaCheck(db: Knex): Promise<PostureCheck> {
  const check = SCHEMA_VERSION
  const state = await readMigrationState(db)
  if (state.problem) {
    return check.fail(
      `${state.problem.message}.`,
      state.problem.problem === 'unknown-migrations'
        ? 'Deploy the release that wrote them: this code is older than the schema.'
        : 'Repair the history as the detail says, then run the migrations again.',
    )
  }
  if (state.applied.length === 0) {
    return check.fail('No migration has been applied (no emr-vault history).', FIX)
  }
  if (state.pending.length > 0) {
    return check.fail(
      `${state.pending.length} migration(s) pending: ${state.pending.join(', ')}.`,
      FIX,
    )
  }
  const latest = state.applied[state.applied.length - 1]
  if (state.recordedIn === 'knex_migrations') {
    return check.pass(
      `${state.applied.length} migrations applied, none pending; latest ${latest}. ` +
        'The history is still under the old names in knex_migrations; the next ' +
        'migrate records it in emr_vault_migrations without running anything.',
    )
  }
  return check.pass(
    `${state.applied.length} migrations applied, none pending; latest ${latest}.`,
  )
}
