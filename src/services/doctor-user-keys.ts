import type { Knex } from 'knex'
import { countUncertifiedUsers } from '../repositories/user.repository.js'
import { line, type PostureCheck } from './doctor-check.js'

/**
 * Every user's public key carries a certificate (docs/concepts.md, "Certified
 * public keys"). Nothing is sealed to a user without one: grants to them, and
 * rotations or revokes of patients they hold, are refused.
 *
 * - WARN: users without a certificate (a database made before certificates, not
 *   yet through the administrator's one-off step), or the column is missing
 *   (the migrations have not run; the schema line FAILs as well).
 * - PASS otherwise. Counts rows; it cannot check the certificates themselves
 *   (that needs the audit key, which the doctor is not given): every seal does.
 */
export const USER_KEY_CERTIFICATES = line(
  'user_key_certificates',
  'User public keys certified',
)

export async function userKeyCertificatesCheck(db: Knex): Promise<PostureCheck> {
  const check = USER_KEY_CERTIFICATES
  if (!(await db.schema.hasColumn('users', 'public_key_certificate'))) {
    return check.warn(
      'users has no public_key_certificate column.',
      'Run the migrations (emr-vault migrate, or migrateLatest(db)) with this release.',
    )
  }
  const uncertified = await countUncertifiedUsers(db)
  if (uncertified > 0) {
    return check.warn(
      `${uncertified} user(s) have no certificate for their public key: nothing is sealed to them ` +
        '(grants to them and rotations of their patients are refused).',
      'An administrator certifies them once: emr-vault user certify --as ADMIN ' +
        '(vault.certifyUsers(admin)). It vouches for the keys as the database holds them now.',
    )
  }
  return check.pass('Every user public key has a certificate.')
}
