import type { Knex } from 'knex'

/**
 * The key hierarchy and the encrypted chart.
 *
 * Conventions:
 * - Row ids are application-generated UUIDv7 in BINARY(16), so the envelope AAD can
 *   name the row before it is inserted. Every table has a primary key and is
 *   InnoDB (replication, InnoDB Cluster and Vitess need both).
 * - Patient-owned tables lead with `patient_id` so they shard by patient.
 * - A `*_enc` column holds one envelope; its size is the largest plaintext the
 *   service accepts plus 69 bytes of header, padding block and tag.
 * - No key is ever stored in clear: users hold a wrapped private key, grants and
 *   recovery seals hold HPKE-sealed patient keys.
 */

const id = (t: Knex.CreateTableBuilder, name: string) =>
  t.specificType(name, 'BINARY(16)').notNullable()
/** Millisecond UTC timestamp set by the server (sessions run with time_zone '+00:00'). */
const timestamp = (t: Knex.CreateTableBuilder, name: string, knex: Knex) =>
  t.specificType(name, 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
/** Envelope of a short field (≤ 1,024 plaintext bytes): 21 + 1,040 + 32. */
const shortEnc = (t: Knex.CreateTableBuilder, name: string) =>
  t.specificType(name, 'VARBINARY(1093)')

function innodb(t: Knex.CreateTableBuilder): void {
  t.engine('InnoDB')
  t.charset('utf8mb4')
  t.collate('utf8mb4_bin')
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    innodb(t)
    id(t, 'id').primary()
    t.string('username', 64).notNullable().unique()
    t.string('display_name', 200).notNullable()
    t.specificType('roles', "SET('clinician','admin','emergency')").notNullable()
    // bcrypt login verifier ($2b$, cost inside the hash), separate from the KEK.
    t.string('password_verifier', 60).notNullable()
    // scrypt parameters are stored per user so that they can be raised later.
    t.specificType('kdf_salt', 'BINARY(16)').notNullable()
    t.integer('kdf_log_n').unsigned().notNullable()
    t.integer('kdf_r').unsigned().notNullable()
    t.integer('kdf_p').unsigned().notNullable()
    t.specificType('public_key', 'BINARY(32)').notNullable()
    t.specificType('wrapped_private_key', 'VARBINARY(128)').notNullable()
    t.specificType('disabled_at', 'DATETIME(3)').nullable()
    timestamp(t, 'password_changed_at', knex)
    timestamp(t, 'created_at', knex)
  })

  await knex.schema.createTable('patients', (t) => {
    innodb(t)
    id(t, 'id').primary()
    t.integer('current_key_version').unsigned().notNullable()
    id(t, 'created_by').references('users.id')
    timestamp(t, 'created_at', knex)
    timestamp(t, 'updated_at', knex)
    // Demographics (HIPAA identifiers): every one an envelope, AAD names the column.
    shortEnc(t, 'full_name_enc').notNullable()
    shortEnc(t, 'date_of_birth_enc').notNullable()
    shortEnc(t, 'sex_enc')
    shortEnc(t, 'national_id_enc')
    shortEnc(t, 'address_enc')
    shortEnc(t, 'phone_enc')
    shortEnc(t, 'email_enc')
  })

  // Metadata only: which versions exist and when they were made or retired. Never a key.
  await knex.schema.createTable('patient_key_versions', (t) => {
    innodb(t)
    id(t, 'patient_id').references('patients.id')
    t.integer('version').unsigned().notNullable()
    id(t, 'created_by').references('users.id')
    timestamp(t, 'created_at', knex)
    t.specificType('retired_at', 'DATETIME(3)').nullable()
    t.primary(['patient_id', 'version'])
  })

  // One row per (patient, key version, user): the patient key sealed with HPKE to
  // the user's public key, AAD binding patient, version and grantee.
  await knex.schema.createTable('patient_key_grants', (t) => {
    innodb(t)
    id(t, 'patient_id')
    t.integer('key_version').unsigned().notNullable()
    id(t, 'user_id').references('users.id')
    t.specificType('sealed_key', 'VARBINARY(128)').notNullable()
    id(t, 'granted_by').references('users.id')
    timestamp(t, 'granted_at', knex)
    t.primary(['patient_id', 'key_version', 'user_id'])
    t.foreign(['patient_id', 'key_version'])
      .references(['patient_id', 'version'])
      .inTable('patient_key_versions')
    t.index(['user_id', 'patient_id'], 'patient_key_grants_by_user')
  })

  // Each patient key version sealed to the organisation's recovery public key,
  // named by its fingerprint (SHA-256 of the public key).
  await knex.schema.createTable('patient_key_recovery_seals', (t) => {
    innodb(t)
    id(t, 'patient_id')
    t.integer('key_version').unsigned().notNullable()
    t.specificType('recovery_key_fingerprint', 'BINARY(32)').notNullable()
    t.specificType('sealed_key', 'VARBINARY(128)').notNullable()
    timestamp(t, 'created_at', knex)
    t.primary(['patient_id', 'key_version'])
    t.foreign(['patient_id', 'key_version'])
      .references(['patient_id', 'version'])
      .inTable('patient_key_versions')
  })

  // The chart. Kind is clear so a chart can be listed by kind; the clinical date
  // is a HIPAA identifier and so is encrypted with the content.
  await knex.schema.createTable('clinical_records', (t) => {
    innodb(t)
    id(t, 'id').primary()
    id(t, 'patient_id').references('patients.id')
    t.enu('kind', [
      'encounter',
      'note',
      'diagnosis',
      'medication',
      'allergy',
      'observation',
    ]).notNullable()
    id(t, 'author_id').references('users.id')
    timestamp(t, 'created_at', knex)
    timestamp(t, 'updated_at', knex)
    shortEnc(t, 'occurred_on_enc').notNullable()
    shortEnc(t, 'title_enc').notNullable()
    shortEnc(t, 'code_enc')
    // Up to 1 MiB of text.
    t.specificType('body_enc', 'MEDIUMBLOB')
    t.index(['patient_id', 'created_at'], 'clinical_records_by_patient')
  })
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'clinical_records',
    'patient_key_recovery_seals',
    'patient_key_grants',
    'patient_key_versions',
    'patients',
    'users',
  ]) {
    await knex.schema.dropTableIfExists(table)
  }
}
