import type { Knex } from 'knex'

/**
 * The chart state of each patient (src/crypto/chart-state.ts, docs/integrity.md):
 * how many of the patient's rows hold envelopes and three keyed XOR digests of
 * which rows, which fields and which envelopes they are, with a write counter and
 * a MAC under a subkey of the audit key. Every write of the patient's rows updates
 * it in the same transaction, and the act's audit row carries its counter and MAC,
 * so a row deleted, added, NULLed or rolled back by someone who can write the
 * tables no longer matches it.
 *
 * An existing database has no state rows (this migration has no key): an
 * administrator records them once (`emr-vault chart baseline`,
 * vault.recordChartStates); until then those patients' charts are not checked.
 * No foreign key: the state must be there to be compared even when its patient
 * row has been deleted.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('emr_vault_chart_states', (t) => {
    t.engine('InnoDB')
    t.specificType('patient_id', 'BINARY(16)').primary()
    // Signed: a chart already tampered with keeps its difference through later writes.
    t.bigInteger('row_count').notNullable()
    t.specificType('rows_digest', 'BINARY(32)').notNullable()
    t.specificType('fields_digest', 'BINARY(32)').notNullable()
    t.specificType('values_digest', 'BINARY(32)').notNullable()
    t.bigInteger('write_seq').unsigned().notNullable()
    t.specificType('mac', 'BINARY(32)').notNullable()
    t.specificType('updated_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('emr_vault_chart_states')
}
