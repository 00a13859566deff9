import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import type {
  EmergencyKeyHolderRow,
  EmergencyKeyRow,
  EmergencySealRow,
} from './patient-key.row.js'

export async function findEmergencyKey(
  db: Executor,
): Promise<EmergencyKeyRow | undefined> {
  const rows = await selectRows<EmergencyKeyRow>(
    db,
    db('emergency_key').select('*').where('id', 1),
    'find emergency key',
  )
  return rows[0]
}

export async function insertEmergencyKey(
  db: Executor,
  row: Omit<EmergencyKeyRow, 'id' | 'created_at'>,
): Promise<void> {
  await executeWrite(
    db,
    db('emergency_key').insert({ id: 1, ...row }),
    'insert emergency key',
  )
}

export async function setEmergencyKeyMac(db: Executor, mac: Buffer): Promise<void> {
  await executeWrite(
    db,
    db('emergency_key').update({ public_key_mac: mac }).where('id', 1),
    'pin emergency key',
  )
}

/** Removes a user's copy of the emergency private key (role withdrawn, user leaving). */
export async function deleteEmergencyKeyHolder(
  db: Executor,
  userId: Buffer,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db('emergency_key_holders').delete().where('user_id', userId),
    'delete emergency key holder',
  )
  return affectedRows === 1
}

export async function findEmergencyKeyHolder(
  db: Executor,
  userId: Buffer,
): Promise<EmergencyKeyHolderRow | undefined> {
  const rows = await selectRows<EmergencyKeyHolderRow>(
    db,
    db('emergency_key_holders').select('*').where('user_id', userId),
    'find emergency key holder',
  )
  return rows[0]
}

/** Seals (or re-seals) the emergency private key to a user. */
export async function upsertEmergencyKeyHolder(
  db: Executor,
  row: Omit<EmergencyKeyHolderRow, 'granted_at'>,
): Promise<void> {
  await executeWrite(
    db,
    db('emergency_key_holders')
      .insert(row)
      .onConflict('user_id')
      .merge(['sealed_private_key', 'granted_by']),
    'store emergency key holder',
  )
}

export async function findEmergencySeal(
  db: Executor,
  patientId: Buffer,
  version: number,
): Promise<EmergencySealRow | undefined> {
  const rows = await selectRows<EmergencySealRow>(
    db,
    db('patient_key_emergency_seals')
      .select('patient_id', 'key_version', 'sealed_key')
      .where({ patient_id: patientId, key_version: version }),
    'find emergency seal',
  )
  return rows[0]
}

export async function insertEmergencySeal(
  db: Executor,
  row: EmergencySealRow,
): Promise<void> {
  await executeWrite(
    db,
    db('patient_key_emergency_seals').insert(row),
    'insert emergency seal',
  )
}

/** Patients whose current key version is not yet sealed to the emergency key. */
export async function listPatientsWithoutEmergencySeal(
  db: Executor,
  limit: number,
): Promise<Buffer[]> {
  const rows = await selectRows<{ id: Buffer }>(
    db,
    db('patients as p')
      .leftJoin('patient_key_emergency_seals as s', function () {
        this.on('s.patient_id', '=', 'p.id').andOn(
          's.key_version',
          '=',
          'p.current_key_version',
        )
      })
      .whereNull('s.patient_id')
      .select('p.id')
      .orderBy('p.id')
      .limit(limit),
    'list patients without emergency seal',
  )
  return rows.map((r) => r.id)
}
