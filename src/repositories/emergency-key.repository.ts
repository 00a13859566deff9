import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import { AUDIT_TABLES } from './audit-log.row.js'
import type {
  EmergencyKeyHolderRow,
  EmergencyKeyRow,
  EmergencySealRow,
} from './patient-key.row.js'
import type { UserRow } from './user.row.js'

/**
 * The emergency key's versions, its holders' copies and the patient seals
 * (migrations 0003, 0005 of 20261129 and 20261202_0005_emergency_key_versions).
 */

/** The current emergency key: the highest version stored. */
export async function findEmergencyKey(
  db: Executor,
): Promise<EmergencyKeyRow | undefined> {
  const rows = await selectRows<EmergencyKeyRow>(
    db,
    db('emergency_key').select('*').orderBy('version', 'desc').limit(1),
    'find emergency key',
  )
  return rows[0]
}

/**
 * Every stored version, oldest first; `lock` takes them FOR UPDATE (a rotation
 * starting or finishing, so that two administrators run one after the other).
 */
export async function listEmergencyKeys(
  db: Executor,
  lock = false,
): Promise<EmergencyKeyRow[]> {
  const query = db('emergency_key').select('*').orderBy('version')
  if (lock) query.forUpdate()
  return selectRows<EmergencyKeyRow>(db, query, 'list emergency keys')
}

export async function findEmergencyKeyVersion(
  db: Executor,
  version: number,
): Promise<EmergencyKeyRow | undefined> {
  const rows = await selectRows<EmergencyKeyRow>(
    db,
    db('emergency_key').select('*').where('version', version),
    'find emergency key version',
  )
  return rows[0]
}

export async function insertEmergencyKey(
  db: Executor,
  row: Omit<EmergencyKeyRow, 'created_at'>,
): Promise<void> {
  await executeWrite(db, db('emergency_key').insert(row), 'insert emergency key')
}

export async function setEmergencyKeyMac(
  db: Executor,
  version: number,
  mac: Buffer,
): Promise<void> {
  await executeWrite(
    db,
    db('emergency_key').update({ public_key_mac: mac }).where('version', version),
    'pin emergency key',
  )
}

/** Removes every copy of the emergency private key a user holds (role withdrawn, user leaving). */
export async function deleteEmergencyKeyHolder(
  db: Executor,
  userId: Buffer,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db('emergency_key_holders').delete().where('user_id', userId),
    'delete emergency key holder',
  )
  return affectedRows > 0
}

/** A user's copy of one emergency key version. */
export async function findEmergencyKeyHolder(
  db: Executor,
  userId: Buffer,
  version: number,
): Promise<EmergencyKeyHolderRow | undefined> {
  const rows = await selectRows<EmergencyKeyHolderRow>(
    db,
    db('emergency_key_holders')
      .select('*')
      .where({ user_id: userId, emergency_key_version: version }),
    'find emergency key holder',
  )
  return rows[0]
}

/** Whether a user holds a copy of any emergency key version. */
export async function isEmergencyKeyHolder(
  db: Executor,
  userId: Buffer,
): Promise<boolean> {
  const rows = await selectRows<{ user_id: Buffer }>(
    db,
    db('emergency_key_holders').select('user_id').where('user_id', userId).limit(1),
    'find emergency key holder',
  )
  return rows.length > 0
}

/** A holder of one version with what a new copy for them depends on. */
export type EmergencyHolderWithKey = Pick<
  UserRow,
  'roles' | 'disabled_at' | 'public_key' | 'public_key_version' | 'public_key_certificate'
> & { readonly id: Buffer }

/** The holders of one emergency key version, with their user rows' keys. */
export async function listEmergencyKeyHolders(
  db: Executor,
  version: number,
): Promise<EmergencyHolderWithKey[]> {
  return selectRows<EmergencyHolderWithKey>(
    db,
    db('emergency_key_holders as h')
      .join('users as u', 'u.id', 'h.user_id')
      .select(
        'u.id',
        'u.roles',
        'u.disabled_at',
        'u.public_key',
        'u.public_key_version',
        'u.public_key_certificate',
      )
      .where('h.emergency_key_version', version)
      .orderBy('u.id'),
    'list emergency key holders',
  )
}

/** Seals (or re-seals) one emergency key version's private key to a user. */
export async function upsertEmergencyKeyHolder(
  db: Executor,
  row: Omit<EmergencyKeyHolderRow, 'granted_at'>,
): Promise<void> {
  await executeWrite(
    db,
    db('emergency_key_holders')
      .insert(row)
      .onConflict(['user_id', 'emergency_key_version'])
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
      .select('patient_id', 'key_version', 'emergency_key_version', 'sealed_key')
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

/**
 * Replaces a patient key version's seal by its seal under another emergency key
 * version, in place (one row per patient key version at every moment).
 */
export async function replaceEmergencySeal(
  db: Executor,
  row: EmergencySealRow,
): Promise<void> {
  await executeWrite(
    db,
    db('patient_key_emergency_seals')
      .update({
        sealed_key: row.sealed_key,
        emergency_key_version: row.emergency_key_version,
      })
      .where({ patient_id: row.patient_id, key_version: row.key_version }),
    'replace emergency seal',
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

function notSealedTo(db: Executor, version: number) {
  return db('patients as p')
    .leftJoin('patient_key_emergency_seals as s', function () {
      this.on('s.patient_id', '=', 'p.id').andOn(
        's.key_version',
        '=',
        'p.current_key_version',
      )
    })
    .where((w) =>
      w.whereNull('s.patient_id').orWhere('s.emergency_key_version', '<>', version),
    )
}

/**
 * Patients after `after` (in id order) whose current key version has no seal
 * under emergency key `version`: no seal at all, or one under another version.
 */
export async function listPatientsNotSealedTo(
  db: Executor,
  version: number,
  after: Buffer,
  limit: number,
): Promise<Buffer[]> {
  const rows = await selectRows<{ id: Buffer }>(
    db,
    notSealedTo(db, version)
      .where('p.id', '>', after)
      .select('p.id')
      .orderBy('p.id')
      .limit(limit),
    'list patients not sealed to the emergency key',
  )
  return rows.map((r) => r.id)
}

export async function countPatientsNotSealedTo(
  db: Executor,
  version: number,
): Promise<number> {
  const rows = await selectRows<{ n: number | string }>(
    db,
    notSealedTo(db, version).count({ n: '*' }),
    'count patients not sealed to the emergency key',
  )
  return Number(rows[0]?.n ?? 0)
}

export async function countPatients(db: Executor): Promise<number> {
  const rows = await selectRows<{ n: number | string }>(
    db,
    db('patients').count({ n: '*' }),
    'count patients',
  )
  return Number(rows[0]?.n ?? 0)
}

/** What the end of a rotation deleted of the versions before the new one. */
export interface RetiredEmergencyMaterial {
  readonly seals: number
  readonly holders: number
  readonly keys: number
}

/**
 * Deletes everything under emergency key versions below `version`: patient
 * seals (children first: they reference the key row), holder copies, and the
 * key rows with their recovery seals.
 */
export async function deleteEmergencyVersionsBelow(
  db: Executor,
  version: number,
): Promise<RetiredEmergencyMaterial> {
  const seals = await executeWrite(
    db,
    db('patient_key_emergency_seals')
      .delete()
      .where('emergency_key_version', '<', version),
    'delete retired emergency seals',
  )
  const holders = await executeWrite(
    db,
    db('emergency_key_holders').delete().where('emergency_key_version', '<', version),
    'delete retired emergency key holders',
  )
  const keys = await executeWrite(
    db,
    db('emergency_key').delete().where('version', '<', version),
    'delete retired emergency keys',
  )
  return {
    seals: seals.affectedRows,
    holders: holders.affectedRows,
    keys: keys.affectedRows,
  }
}

/** Emergency key versions the audit trail records rotations to (0: none). */
export interface RecordedEmergencyRotations {
  /** Highest version a rotation was started to (`start vN->vM`). */
  readonly startedTo: number
  /** Highest version a rotation was finished to (`finish vN->vM`): every version below is retired. */
  readonly finishedTo: number
}

const ROTATION_DETAIL = /^(start|finish) v\d{1,10}->v(\d{1,10})$/

/**
 * What the successful `emergency.rotate` audit rows say (their details read
 * `start v1->v2` and `finish v1->v2`). The current key's version must never be
 * below `startedTo`, and no version below `finishedTo` may be stored: either is
 * a retired key put back by someone who can write to the database.
 */
export async function recordedEmergencyRotations(
  db: Executor,
): Promise<RecordedEmergencyRotations> {
  const rows = await selectRows<{ detail: string | null }>(
    db,
    db(AUDIT_TABLES.log)
      .select('detail')
      .where({ action: 'emergency.rotate', outcome: 'success' }),
    'read emergency key rotations from the audit log',
  )
  let startedTo = 0
  let finishedTo = 0
  for (const { detail } of rows) {
    const m = detail === null ? null : ROTATION_DETAIL.exec(detail)
    if (!m) continue
    const to = Number(m[2])
    if (m[1] === 'start') startedTo = Math.max(startedTo, to)
    else finishedTo = Math.max(finishedTo, to)
  }
  return { startedTo: Math.max(startedTo, finishedTo), finishedTo }
}
