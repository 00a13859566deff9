import type { Knex } from 'knex'

/**
 * Certifies users' public keys (src/crypto/user-key-certificate.ts): a version
 * counter, 1 for the key a user is registered with and one more for every new
 * key pair, and the MAC of (user id, version, public key) under a key derived
 * from the audit key, which lives in configuration, not in the database. Someone
 * who can write to `users` can no longer swap in their own public key and be
 * sealed the next grant: every seal to a user checks the certificate first.
 *
 * The certificate is NULL on the rows of an existing database (the migration has
 * no key): those users are certified once by an administrator
 * (`emr-vault user certify`, vault.certifyUsers), and until then nothing is
 * sealed to them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.integer('public_key_version').unsigned().notNullable().defaultTo(1)
    t.specificType('public_key_certificate', 'BINARY(32)').nullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('public_key_certificate')
    t.dropColumn('public_key_version')
  })
}
