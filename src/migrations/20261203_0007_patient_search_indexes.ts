import type { Knex } from 'knex'

/**
 * The search index columns of `patients` (docs/search.md; the indexes are
 * declared with PATIENTS in src/schema/chart-tables.ts): a keyed HMAC of the
 * normalised national id and name (16 bytes, exact), and two coarse ones of a
 * few bits (date of birth and surname initial; surname sound and birth year).
 * The values are computed in Node under the deployment's search key, which this
 * migration does not have: rows written before it have NULL here and are not
 * found until they are indexed.
 *
 * The national id's is UNIQUE: two patients with the same national id are one
 * person registered twice.
 *
 * And an index of the audit log by actor, action and time: the per-user search
 * rate limit counts one user's searches of the last minute, on every instance.
 * And `emr_vault_search_index_runs`: how far the rebuild of every index under
 * one search key has gone (a fingerprint of the key, never the key), so that a
 * stopped rebuild resumes at the next patient.
 * And the `registrar` role, for the desks that may learn which patients outside
 * their grants a national id belongs to.
 */
const EXACT = ['bidx_by_national_id', 'bidx_by_name'] as const
const COARSE = ['bidx_by_birth_and_initial', 'bidx_by_surname_sound_and_year'] as const

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('patients', (t) => {
    for (const c of EXACT) t.specificType(c, 'BINARY(16)').nullable()
    for (const c of COARSE) t.specificType(c, 'INT UNSIGNED').nullable()
    t.unique(['bidx_by_national_id'], { indexName: 'patients_bidx_by_national_id' })
    t.index(['bidx_by_name'], 'patients_bidx_by_name')
    for (const c of COARSE) t.index([c], `patients_${c}`)
  })
  await knex.schema.alterTable('audit_log', (t) => {
    t.index(['actor_user_id', 'action', 'occurred_at'], 'audit_log_by_actor_action_time')
  })
  await knex.raw(
    "ALTER TABLE users MODIFY roles SET('clinician','admin','emergency','registrar') NOT NULL",
  )
  await knex.schema.createTable('emr_vault_search_index_runs', (t) => {
    t.specificType('key_fingerprint', 'BINARY(32)').primary()
    // The last patient whose rows were indexed; NULL before the first.
    t.specificType('last_patient_id', 'BINARY(16)').nullable()
    t.integer('patients').unsigned().notNullable().defaultTo(0)
    t.specificType('started_at', 'DATETIME(3)').notNullable()
    t.specificType('finished_at', 'DATETIME(3)').nullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('emr_vault_search_index_runs')
  // Refused (strict mode) while a user holds the role: take it away first.
  await knex.raw(
    "ALTER TABLE users MODIFY roles SET('clinician','admin','emergency') NOT NULL",
  )
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropIndex(
      ['actor_user_id', 'action', 'occurred_at'],
      'audit_log_by_actor_action_time',
    )
  })
  await knex.schema.alterTable('patients', (t) => {
    t.dropUnique(['bidx_by_national_id'], 'patients_bidx_by_national_id')
    t.dropIndex(['bidx_by_name'], 'patients_bidx_by_name')
    for (const c of COARSE) t.dropIndex([c], `patients_${c}`)
    t.dropColumns(...EXACT, ...COARSE)
  })
}
