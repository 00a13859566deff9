import type { Knex } from 'knex'

/**
 * Versions of the emergency (break-glass) key pair E, so that E can be rotated
 * (services/emergency-rotation.service.ts): a former holder's old sealed copy
 * of E, kept in an old backup, must open nothing sealed after the rotation.
 *
 * - `emergency_key` is keyed by `version` instead of the constant `id` = 1. The
 *   current key is the highest version; a second row exists only while a
 *   rotation runs, and the rotation's last step deletes the older one.
 * - `emergency_key_holders` holds one copy per (user, E version): during a
 *   rotation a holder has both, and break-glass opens whichever the patient's
 *   seal is under.
 * - `patient_key_emergency_seals` names the E version each seal is under. Still
 *   one seal per patient key version: the rotation replaces it in place.
 * - Both reference `emergency_key(version)`, so no E version can be deleted
 *   while a copy or a seal under it is left, and no seal can name a version
 *   that is not stored.
 *
 * An existing database keeps every row: its key becomes version 1, its copies
 * and seals are under version 1, and its pin (the unversioned MAC of migration
 * 0005, or NULL on a key older still) is still accepted for version 1 only
 * (crypto/emergency-key-pin.ts). Every table keeps a primary key throughout:
 * each key swap is one ALTER TABLE.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE emergency_key ADD COLUMN version INT UNSIGNED NOT NULL DEFAULT 1 FIRST',
  )
  await knex.raw(
    'ALTER TABLE emergency_key DROP PRIMARY KEY, DROP COLUMN id, ' +
      'MODIFY version INT UNSIGNED NOT NULL, ADD PRIMARY KEY (version)',
  )

  await knex.raw(
    'ALTER TABLE emergency_key_holders ' +
      'ADD COLUMN emergency_key_version INT UNSIGNED NOT NULL DEFAULT 1 AFTER user_id',
  )
  await knex.raw(
    'ALTER TABLE emergency_key_holders DROP PRIMARY KEY, ' +
      'MODIFY emergency_key_version INT UNSIGNED NOT NULL, ' +
      'ADD PRIMARY KEY (user_id, emergency_key_version), ' +
      'ADD KEY emergency_key_holders_by_version (emergency_key_version), ' +
      'ADD CONSTRAINT emergency_key_holders_version_foreign ' +
      'FOREIGN KEY (emergency_key_version) REFERENCES emergency_key (version)',
  )

  await knex.raw(
    'ALTER TABLE patient_key_emergency_seals ' +
      'ADD COLUMN emergency_key_version INT UNSIGNED NOT NULL DEFAULT 1 AFTER key_version',
  )
  await knex.raw(
    'ALTER TABLE patient_key_emergency_seals ' +
      'MODIFY emergency_key_version INT UNSIGNED NOT NULL, ' +
      'ADD KEY patient_key_emergency_seals_by_version (emergency_key_version), ' +
      'ADD CONSTRAINT patient_key_emergency_seals_version_foreign ' +
      'FOREIGN KEY (emergency_key_version) REFERENCES emergency_key (version)',
  )
}

/**
 * Back to the single key. Only a database whose one key is still version 1 can
 * go back: the older code knows no other version, and a rotated key's seals
 * bind their version, so it could open none of them. Refused otherwise, with
 * nothing changed.
 */
export async function down(knex: Knex): Promise<void> {
  const rows = (await knex('emergency_key').select('version')) as { version: number }[]
  if (rows.some((r) => r.version !== 1)) {
    throw new Error(
      'the emergency key has been rotated (a version other than 1 is stored): ' +
        'the migration before 20261202_0005_emergency_key_versions cannot hold it',
    )
  }
  await knex.raw(
    'ALTER TABLE patient_key_emergency_seals ' +
      'DROP FOREIGN KEY patient_key_emergency_seals_version_foreign',
  )
  await knex.raw(
    'ALTER TABLE patient_key_emergency_seals ' +
      'DROP KEY patient_key_emergency_seals_by_version, DROP COLUMN emergency_key_version',
  )
  await knex.raw(
    'ALTER TABLE emergency_key_holders ' +
      'DROP FOREIGN KEY emergency_key_holders_version_foreign',
  )
  await knex.raw(
    'ALTER TABLE emergency_key_holders DROP PRIMARY KEY, ' +
      'DROP KEY emergency_key_holders_by_version, DROP COLUMN emergency_key_version, ' +
      'ADD PRIMARY KEY (user_id)',
  )
  await knex.raw(
    'ALTER TABLE emergency_key ADD COLUMN id TINYINT UNSIGNED NOT NULL DEFAULT 1 FIRST',
  )
  await knex.raw(
    'ALTER TABLE emergency_key DROP PRIMARY KEY, DROP COLUMN version, ' +
      'MODIFY id TINYINT UNSIGNED NOT NULL, ADD PRIMARY KEY (id)',
  )
}
