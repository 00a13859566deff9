import type { Knex } from 'knex'

/**
 * Break-glass without an offline key at the moment of the emergency:
 * an organisation *emergency* X25519 key pair E. Every patient key version is also
 * sealed to E's public key; E's private key is sealed to each user who holds the
 * emergency role (and to the recovery key, so an administrator can hand it to a
 * new emergency user). Opening a chart by break-glass creates a normal grant that
 * expires, so the usual access checks apply and the access is time-limited.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('emergency_key', (t) => {
    t.engine('InnoDB')
    t.specificType('id', 'TINYINT UNSIGNED').primary() // always 1: one emergency key
    t.specificType('public_key', 'BINARY(32)').notNullable()
    // E's private key sealed to the recovery public key.
    t.specificType('recovery_sealed_private_key', 'VARBINARY(128)').notNullable()
    t.specificType('created_by', 'BINARY(16)').notNullable().references('users.id')
    t.specificType('created_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
  })

  await knex.schema.createTable('emergency_key_holders', (t) => {
    t.engine('InnoDB')
    t.specificType('user_id', 'BINARY(16)').primary().references('users.id')
    t.specificType('sealed_private_key', 'VARBINARY(128)').notNullable()
    t.specificType('granted_by', 'BINARY(16)').notNullable().references('users.id')
    t.specificType('granted_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
  })

  await knex.schema.createTable('patient_key_emergency_seals', (t) => {
    t.engine('InnoDB')
    t.specificType('patient_id', 'BINARY(16)').notNullable()
    t.integer('key_version').unsigned().notNullable()
    t.specificType('sealed_key', 'VARBINARY(128)').notNullable()
    t.specificType('created_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
    t.primary(['patient_id', 'key_version'])
    t.foreign(['patient_id', 'key_version'])
      .references(['patient_id', 'version'])
      .inTable('patient_key_versions')
  })

  // A break-glass grant carries its expiry; ordinary grants have none.
  await knex.schema.alterTable('patient_key_grants', (t) => {
    t.specificType('expires_at', 'DATETIME(3)').nullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('patient_key_grants', (t) => {
    t.dropColumn('expires_at')
  })
  await knex.schema.dropTableIfExists('patient_key_emergency_seals')
  await knex.schema.dropTableIfExists('emergency_key_holders')
  await knex.schema.dropTableIfExists('emergency_key')
}
