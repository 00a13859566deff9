import type { Knex } from 'knex'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import type {
  GranteeRow,
  PatientKeyGrantRow,
  RecoverySealRow,
} from './patient-key.row.js'

/** Records that a key version exists (metadata only; the key itself is only ever sealed). */
export async function insertKeyVersion(
  db: Executor,
  patientId: Buffer,
  version: number,
  createdBy: Buffer,
): Promise<void> {
  await executeWrite(
    db,
    db('patient_key_versions').insert({
      patient_id: patientId,
      version,
      created_by: createdBy,
    }),
    'insert key version',
  )
}

export async function insertGrant(
  db: Executor,
  row: Omit<PatientKeyGrantRow, 'granted_at' | 'expires_at'> & {
    expires_at?: Date | null
  },
): Promise<void> {
  await executeWrite(db, db('patient_key_grants').insert(row), 'insert grant')
}

/** Rows per INSERT of {@link insertGrants}: 7 columns each, far below the 65,535 placeholders. */
const GRANT_INSERT_BATCH = 500

/**
 * Several grants in multi-row INSERTs. A rotation re-seals every grant of the
 * patient; one statement per grant made a patient shared with 1,000 users cost
 * 1,000 round trips to rotate or revoke (measured by `npm run bench`).
 */
export async function insertGrants(
  db: Executor,
  rows: readonly (Omit<PatientKeyGrantRow, 'granted_at' | 'expires_at'> & {
    expires_at: Date | null
  })[],
): Promise<void> {
  for (let at = 0; at < rows.length; at += GRANT_INSERT_BATCH) {
    await executeWrite(
      db,
      db('patient_key_grants').insert(rows.slice(at, at + GRANT_INSERT_BATCH)),
      'insert grants',
    )
  }
}

export async function insertRecoverySeal(
  db: Executor,
  row: Omit<RecoverySealRow, 'created_at'>,
): Promise<void> {
  await executeWrite(
    db,
    db('patient_key_recovery_seals').insert(row),
    'insert recovery seal',
  )
}

/**
 * Grants (`g`) of each patient's current key version (`p`) that have not expired.
 * Every access path starts here, so a rotated-away or expired grant opens nothing.
 */
function currentGrants(db: Executor): Knex.QueryBuilder {
  return db('patient_key_grants as g')
    .join('patients as p', function () {
      this.on('p.id', '=', 'g.patient_id').andOn(
        'p.current_key_version',
        '=',
        'g.key_version',
      )
    })
    .where(function () {
      this.whereNull('g.expires_at').orWhere(
        'g.expires_at',
        '>',
        db.raw('CURRENT_TIMESTAMP(3)'),
      )
    })
}

/**
 * The user's current grants as a derived table (a search joins it to the rows
 * its index found):
 *
 * SELECT g.patient_id, g.key_version, g.user_id, g.sealed_key, g.granted_by,
 *        g.granted_at, g.expires_at
 * FROM patient_key_grants g JOIN patients p ON … current version JOIN users u ON u.id = g.user_id
 * WHERE (g.expires_at IS NULL OR g.expires_at > CURRENT_TIMESTAMP(3))
 *   AND u.disabled_at IS NULL AND g.user_id = ?
 */
export function currentGrantsOfUser(db: Executor, userId: Buffer): Knex.QueryBuilder {
  return currentGrants(db)
    .join('users as u', 'u.id', 'g.user_id')
    .whereNull('u.disabled_at')
    .where('g.user_id', userId)
    .select(GRANT_COLUMNS.map((c) => `g.${c}`))
}

/** The columns of a grant row ({@link PatientKeyGrantRow}). */
export const GRANT_COLUMNS = [
  'patient_id',
  'key_version',
  'user_id',
  'sealed_key',
  'granted_by',
  'granted_at',
  'expires_at',
] as const

/**
 * The user's grant for the patient's *current* key version, if the user exists
 * and is not disabled. `forShare`
 * locks the patient row against a concurrent rotation for the rest of the
 * transaction (used by writes).
 */
export async function findCurrentGrant(
  db: Executor,
  patientId: Buffer,
  userId: Buffer,
  forShare = false,
): Promise<PatientKeyGrantRow | undefined> {
  const query = currentGrants(db)
    // A disabled user's open session loses access at its next statement.
    .join('users as u', 'u.id', 'g.user_id')
    .whereNull('u.disabled_at')
    .select('g.*')
    .where({ 'g.patient_id': patientId, 'g.user_id': userId })
  if (forShare) query.forShare()
  const rows = await selectRows<PatientKeyGrantRow>(db, query, 'find grant')
  return rows[0]
}

/** Everyone holding a grant for the patient's current key version. */
export async function listGrantees(
  db: Executor,
  patientId: Buffer,
): Promise<GranteeRow[]> {
  return selectRows<GranteeRow>(
    db,
    currentGrants(db)
      .join('users as u', 'u.id', 'g.user_id')
      .select(
        'g.user_id',
        'u.username',
        'u.display_name',
        'g.granted_by',
        'g.granted_at',
        'g.expires_at',
        'g.key_version',
      )
      .where('g.patient_id', patientId)
      .orderBy('u.username'),
    'list grantees',
  )
}

/** Patients the user holds a current grant for. */
export async function listGrantedPatientIds(
  db: Executor,
  userId: Buffer,
): Promise<Buffer[]> {
  const rows = await selectRows<{ patient_id: Buffer }>(
    db,
    currentGrants(db)
      .select('g.patient_id')
      .where('g.user_id', userId)
      .orderBy('g.patient_id'),
    'list granted patients',
  )
  return rows.map((r) => r.patient_id)
}

/** Whether a patient row with this id exists (no lock). */
export async function patientRowExists(
  db: Executor,
  patientId: Buffer,
): Promise<boolean> {
  const rows = await selectRows<{ id: Buffer }>(
    db,
    db('patients').select('id').where('id', patientId),
    'find patient',
  )
  return rows.length > 0
}

/** The patient's current key version, locking the row FOR UPDATE (rotation, revoke). */
export async function lockPatientKeyVersion(
  db: Executor,
  patientId: Buffer,
): Promise<number | undefined> {
  const rows = await selectRows<{ current_key_version: number }>(
    db,
    db('patients').select('current_key_version').where('id', patientId).forUpdate(),
    'lock patient',
  )
  return rows[0]?.current_key_version
}

/** Grants of one key version with each grantee's public key and its certificate (for re-sealing). */
export async function listGrantsWithKeys(
  db: Executor,
  patientId: Buffer,
  version: number,
): Promise<
  (PatientKeyGrantRow & {
    public_key: Buffer
    public_key_version: number
    public_key_certificate: Buffer | null
  })[]
> {
  return selectRows(
    db,
    db('patient_key_grants as g')
      .join('users as u', 'u.id', 'g.user_id')
      .select('g.*', 'u.public_key', 'u.public_key_version', 'u.public_key_certificate')
      .where({ 'g.patient_id': patientId, 'g.key_version': version })
      // Disabled users' and expired break-glass grants are not carried to the new
      // version: a rotation ends their access for good.
      .whereNull('u.disabled_at')
      .andWhere(function () {
        this.whereNull('g.expires_at').orWhere(
          'g.expires_at',
          '>',
          db.raw('CURRENT_TIMESTAMP(3)'),
        )
      }),
    'list grants',
  )
}

export async function findRecoverySeal(
  db: Executor,
  patientId: Buffer,
  version: number,
): Promise<RecoverySealRow | undefined> {
  const rows = await selectRows<RecoverySealRow>(
    db,
    db('patient_key_recovery_seals')
      .select('*')
      .where({ patient_id: patientId, key_version: version }),
    'find recovery seal',
  )
  return rows[0]
}

/** Removes every grant and escrow seal of a key version: it opens nothing afterwards. */
export async function deleteSealsOfVersion(
  db: Executor,
  patientId: Buffer,
  version: number,
): Promise<void> {
  const where = { patient_id: patientId, key_version: version }
  await executeWrite(db, db('patient_key_grants').delete().where(where), 'delete grants')
  await executeWrite(
    db,
    db('patient_key_recovery_seals').delete().where(where),
    'delete recovery seal',
  )
  await executeWrite(
    db,
    db('patient_key_emergency_seals').delete().where(where),
    'delete emergency seal',
  )
}

/**
 * Removes one grant, named by its whole primary key; returns how many rows (0 or 1).
 * An equality on the whole unique key locks that row only, no gap: a delete by
 * (patient, user) runs as a range scan of `patient_key_grants_by_user` and
 * gap-locks the neighbouring entries, which belong to other patients, so two
 * revokes or rotations of different patients inserting their new grants
 * deadlocked on those gaps (seen in the concurrency soak).
 */
export async function deleteGrant(
  db: Executor,
  patientId: Buffer,
  version: number,
  userId: Buffer,
): Promise<number> {
  const { affectedRows } = await executeWrite(
    db,
    db('patient_key_grants')
      .delete()
      .where({ patient_id: patientId, key_version: version, user_id: userId }),
    'delete grant',
  )
  return affectedRows
}

/** Removes one user's grants for a patient (every version); returns how many. */
export async function deleteUserGrants(
  db: Executor,
  patientId: Buffer,
  userId: Buffer,
): Promise<number> {
  const { affectedRows } = await executeWrite(
    db,
    db('patient_key_grants').delete().where({ patient_id: patientId, user_id: userId }),
    'delete grant',
  )
  return affectedRows
}

/** Moves the patient to a new key version and retires the old one. */
export async function switchKeyVersion(
  db: Executor,
  patientId: Buffer,
  from: number,
  to: number,
): Promise<void> {
  await executeWrite(
    db,
    db('patients')
      .update({ current_key_version: to })
      .where({ id: patientId, current_key_version: from }),
    'switch key version',
  )
  await executeWrite(
    db,
    db('patient_key_versions')
      .update({ retired_at: db.raw('CURRENT_TIMESTAMP(3)') })
      .where({ patient_id: patientId, version: from }),
    'retire key version',
  )
}

/** The user's grants for the current key version of every patient, disabled or not. */
export async function listCurrentGrantsOfUser(
  db: Executor,
  userId: Buffer,
): Promise<PatientKeyGrantRow[]> {
  return selectRows<PatientKeyGrantRow>(
    db,
    currentGrants(db)
      .select('g.*')
      .where('g.user_id', userId)
      .orderBy('g.patient_id')
      .forUpdate(),
    'list grants of user',
  )
}

/** Replaces the sealed key of one grant (recovery re-grant to a new public key). */
export async function replaceGrantSeal(
  db: Executor,
  grant: Pick<PatientKeyGrantRow, 'patient_id' | 'key_version' | 'user_id'>,
  sealedKey: Buffer,
  grantedBy: Buffer,
): Promise<void> {
  await executeWrite(
    db,
    db('patient_key_grants')
      .update({
        sealed_key: sealedKey,
        granted_by: grantedBy,
        granted_at: db.raw('CURRENT_TIMESTAMP(3)'),
      })
      .where({
        patient_id: grant.patient_id,
        key_version: grant.key_version,
        user_id: grant.user_id,
      }),
    'replace grant',
  )
}
