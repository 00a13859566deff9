import type { Knex } from 'knex'

/**
 * The catalog of declared tables: every table whose columns hold envelopes, the
 * column naming its patient, and those envelope columns (a JSON array of names).
 *
 * Rotation, revoke and rotate-all run from the command line as well as from any
 * instance of an application, and each process knows only the tables its own
 * code declares. A revoke that walked only those would leave another table's
 * values under the retired key version, whose seals it deletes: those values
 * could never be opened again. So a table is recorded here when its migration
 * creates it (createEncryptedTable), and rotation walks the code's tables and
 * these.
 *
 * The chart's two tables are written out literally: a migration must mean the
 * same in every release, whatever the code declares later.
 */

const TABLE = 'emr_vault_declared_tables'

const CHART = [
  {
    table_name: 'patients',
    patient_column: 'id',
    encrypted_columns: [
      'full_name_enc',
      'date_of_birth_enc',
      'sex_enc',
      'national_id_enc',
      'address_enc',
      'phone_enc',
      'email_enc',
    ],
  },
  {
    table_name: 'clinical_records',
    patient_column: 'patient_id',
    encrypted_columns: ['occurred_on_enc', 'title_enc', 'code_enc', 'body_enc'],
  },
]

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable(TABLE, (t) => {
    t.engine('InnoDB')
    t.charset('utf8mb4')
    t.collate('utf8mb4_bin')
    t.string('table_name', 64).primary()
    t.string('patient_column', 64).notNullable()
    t.text('encrypted_columns').notNullable()
    t.specificType('declared_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
  })
  await knex(TABLE).insert(
    CHART.map((entry) => ({
      ...entry,
      encrypted_columns: JSON.stringify(entry.encrypted_columns),
    })),
  )
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists(TABLE)
}
