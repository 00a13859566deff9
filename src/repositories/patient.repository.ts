import type { SqlFieldKeys } from '../sql/envelope-sql.js'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import {
  decodeColumns,
  openColumns,
  sealColumns,
  type PlainColumns,
} from './encrypted-fields.js'
import {
  PATIENT_ENCRYPTED_COLUMNS,
  type OpenedPatientRow,
  type PatientEncryptedColumn,
} from './patient.row.js'

const TABLE = 'patients'

export async function insertPatient(
  db: Executor,
  row: { id: Buffer; keyVersion: number; createdBy: Buffer },
  values: PlainColumns<PatientEncryptedColumn>,
  keys: SqlFieldKeys,
): Promise<void> {
  await executeWrite(
    db,
    db(TABLE).insert({
      id: row.id,
      current_key_version: row.keyVersion,
      created_by: row.createdBy,
      ...sealColumns(db, TABLE, row.id, values, keys),
    }),
    'insert patient',
  )
}

/** The patient with demographics opened in SQL; IntegrityError if any envelope fails. */
export async function readPatient(
  db: Executor,
  id: Buffer,
  keys: SqlFieldKeys,
): Promise<OpenedPatientRow | undefined> {
  const rows = await selectRows<Record<string, unknown> & { id: Buffer }>(
    db,
    db(`${TABLE} as p`)
      .select(
        'p.id',
        'p.current_key_version',
        'p.created_by',
        'p.created_at',
        'p.updated_at',
      )
      .select(openColumns(db, TABLE, 'p', PATIENT_ENCRYPTED_COLUMNS, keys))
      .where('p.id', id),
    'read patient',
  )
  const row = rows[0]
  if (!row) return undefined
  return {
    ...(row as unknown as OpenedPatientRow),
    ...decodeColumns(TABLE, row, PATIENT_ENCRYPTED_COLUMNS),
  }
}

/** Re-seals the given demographics; other columns are left as they are. */
export async function updatePatient(
  db: Executor,
  id: Buffer,
  values: PlainColumns<PatientEncryptedColumn>,
  keys: SqlFieldKeys,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db(TABLE)
      .update({
        ...sealColumns(db, TABLE, id, values, keys),
        updated_at: db.raw('CURRENT_TIMESTAMP(3)'),
      })
      .where({ id, current_key_version: keys.keyVersion }),
    'update patient',
  )
  return affectedRows === 1
}
