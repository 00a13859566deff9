import { wipe } from '../crypto/bytes.js'
import { deriveFieldKeys } from '../crypto/field-keys.js'
import { openPatientKey } from '../crypto/patient-key-seal.js'
import { rowIdToString } from '../db/row-id.js'
import { AccessDeniedError } from '../errors/index.js'
import type { PatientKeyGrantRow } from '../repositories/patient-key.row.js'
import {
  findCurrentGrant,
  lockPatientKeyVersion,
} from '../repositories/patient-key.repository.js'
import { sqlFieldKeys, type SqlFieldKeys } from '../sql/envelope-sql.js'
import type { Executor } from '../sql/prepared.js'
import { asIntegrityError } from './crypto-errors.js'
import type { UnlockedUser } from './unlocked-user.js'

/**
 * The session user's current grant for the patient, checked in the database on
 * every access (HIPAA 164.312(a)(1): no decrypt path without a grant). A patient
 * that does not exist is refused the same way, so ids reveal nothing.
 */
export async function requireGrant(
  db: Executor,
  session: UnlockedUser,
  patientId: Buffer,
  forShare = false,
): Promise<PatientKeyGrantRow> {
  const grant = await findCurrentGrant(db, patientId, session.userIdBytes, forShare)
  if (!grant) throw noAccess(patientId)
  return grant
}

/** The one refusal for a patient without a grant and for an id of no patient. */
function noAccess(patientId: Buffer): AccessDeniedError {
  return new AccessDeniedError(`no access to patient ${rowIdToString(patientId)}`)
}

/**
 * The patient row locked for update, and its current key version, for an act
 * that must lock it before checking the grant (the lock order of grant, revoke
 * and rotation: patient row, then grants). An id of no patient is refused as
 * requireGrant refuses a patient without a grant (same error, same denied audit
 * row), so an act that locks first tells nobody which ids exist.
 */
export async function lockPatientRow(db: Executor, patientId: Buffer): Promise<number> {
  const version = await lockPatientKeyVersion(db, patientId)
  if (version === undefined) throw noAccess(patientId)
  return version
}

/**
 * A break-glass grant (one with an expiry) lets its holder read and write the
 * chart, never hand access on: granting, revoking or rotating from it would turn
 * a time-limited emergency access into a lasting one.
 */
export function requireLastingGrant(grant: PatientKeyGrantRow): PatientKeyGrantRow {
  if (grant.expires_at !== null) {
    throw new AccessDeniedError(
      `a break-glass grant cannot grant, revoke or rotate patient ${rowIdToString(grant.patient_id)}`,
    )
  }
  return grant
}

/** Opens the patient key sealed in `grant` with the session's private key. Caller wipes it. */
export async function openGrant(
  session: UnlockedUser,
  grant: PatientKeyGrantRow,
): Promise<Buffer> {
  try {
    return await openPatientKey(grant.sealed_key, session.privateKey(), {
      patientId: rowIdToString(grant.patient_id),
      keyVersion: grant.key_version,
      recipientId: session.userId,
    })
  } catch (err) {
    throw asIntegrityError(err, `grant for patient ${rowIdToString(grant.patient_id)}`)
  }
}

/** Field subkeys ready for SQL, from a patient key. The patient key is not touched. */
export function fieldKeysFor(patientKey: Buffer, keyVersion: number): SqlFieldKeys {
  const keys = deriveFieldKeys(patientKey)
  const sql = sqlFieldKeys(keys, keyVersion)
  wipe(keys.mac)
  return sql
}

/** Grant check, then the field subkeys (from the session cache or by opening the grant). */
export async function patientFieldKeys(
  db: Executor,
  session: UnlockedUser,
  patientId: Buffer,
  forShare = false,
): Promise<SqlFieldKeys> {
  return fieldKeysOfGrant(session, await requireGrant(db, session, patientId, forShare))
}

/** The field subkeys a current grant opens: from the session cache, or by opening it. */
export async function fieldKeysOfGrant(
  session: UnlockedUser,
  grant: PatientKeyGrantRow,
): Promise<SqlFieldKeys> {
  const id = rowIdToString(grant.patient_id)
  const cached = session.keyCache.get(id, grant.key_version)
  if (cached) return cached
  const patientKey = await openGrant(session, grant)
  try {
    const keys = fieldKeysFor(patientKey, grant.key_version)
    session.keyCache.set(id, keys)
    return keys
  } finally {
    wipe(patientKey)
  }
}
