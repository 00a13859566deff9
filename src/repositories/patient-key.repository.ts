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
  row: Omit<PatientKeyGrantRow, 'granted_at'>,
): Promise<void> {
  await executeWrite(db, db('patient_key_grants').insert(row), 'insert grant')
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
  const query = db('patient_key_grants as g')
    .join('patients as p', function () {
      this.on('p.id', '=', 'g.patient_id').andOn(
        'p.current_key_version',
        '=',
        'g.key_version',
      )
    })
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
    db('patient_key_grants as g')
      .join('patients as p', function () {
        this.on('p.id', '=', 'g.patient_id').andOn(
          'p.current_key_version',
          '=',
          'g.key_version',
        )
      })
      .join('users as u', 'u.id', 'g.user_id')
      .select(
        'g.user_id',
        'u.username',
        'u.display_name',
        'g.granted_by',
        'g.granted_at',
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
    db('patient_key_grants as g')
      .join('patients as p', function () {
        this.on('p.id', '=', 'g.patient_id').andOn(
          'p.current_key_version',
          '=',
          'g.key_version',
        )
      })
      .select('g.patient_id')
      .where('g.user_id', userId)
      .orderBy('g.patient_id'),
    'list granted patients',
  )
  return rows.map((r) => r.patient_id)
}
