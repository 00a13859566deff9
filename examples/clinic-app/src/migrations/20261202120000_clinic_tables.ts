import type { Knex } from 'knex'
import { createEncryptedTable, dropEncryptedTable } from 'emr-vault'
import { allergies, medications } from '../tables.js'

/**
 * The clinic's tables, made from their declarations (column types and sizes,
 * envelope CHECKs, the foreign key to patients) and recorded in emr-vault's
 * catalog, so that a revoke run from the `emr-vault` command reaches them too.
 * An index of the clinic's own goes in the callback: the declaration does not
 * say how the clinic queries.
 */
export async function up(knex: Knex): Promise<void> {
  await createEncryptedTable(knex, medications, (t) => {
    t.index(['patient_id', 'status'], 'medications_by_patient_status')
  })
  await createEncryptedTable(knex, allergies)
}

export async function down(knex: Knex): Promise<void> {
  await dropEncryptedTable(knex, allergies)
  await dropEncryptedTable(knex, medications)
}
