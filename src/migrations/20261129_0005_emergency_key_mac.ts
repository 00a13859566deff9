import type { Knex } from 'knex'

/**
 * Pins the emergency public key to the deployment: a MAC over it under the audit
 * key (which lives in configuration, not in the database). Someone who can write
 * to `emergency_key` cannot swap in their own public key and receive every new
 * patient key: sealing refuses a key whose MAC does not verify.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('emergency_key', (t) => {
    t.specificType('public_key_mac', 'BINARY(32)').nullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('emergency_key', (t) => {
    t.dropColumn('public_key_mac')
  })
}
