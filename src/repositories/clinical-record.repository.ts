import type { SqlFieldKeys } from '../sql/envelope-sql.js'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import {
  RECORD_ENCRYPTED_COLUMNS,
  type OpenedRecordRow,
  type RecordEncryptedColumn,
  type RecordKind,
} from './clinical-record.row.js'
import {
  decodeColumns,
  openColumns,
  sealColumns,
  type PlainColumns,
} from './encrypted-fields.js'

const TABLE = 'clinical_records'

export async function insertRecord(
  db: Executor,
  row: { id: Buffer; patientId: Buffer; kind: RecordKind; authorId: Buffer },
  values: PlainColumns<RecordEncryptedColumn>,
  keys: SqlFieldKeys,
): Promise<void> {
  await executeWrite(
    db,
    db(TABLE).insert({
      id: row.id,
      patient_id: row.patientId,
      kind: row.kind,
      author_id: row.authorId,
      ...sealColumns(db, TABLE, row.id, values, keys),
    }),
    'insert clinical record',
  )
}

/**
 * Records of one patient, opened in SQL, oldest first; one record when `recordId`
 * is given. Always filtered by patient: a record id alone opens nothing.
 */
export async function readRecords(
  db: Executor,
  patientId: Buffer,
  keys: SqlFieldKeys,
  recordId?: Buffer,
): Promise<OpenedRecordRow[]> {
  const query = db(`${TABLE} as r`)
    .select(
      'r.id',
      'r.patient_id',
      'r.kind',
      'r.author_id',
      'r.created_at',
      'r.updated_at',
    )
    .select(openColumns(db, TABLE, 'r', RECORD_ENCRYPTED_COLUMNS, keys))
    .where('r.patient_id', patientId)
    .orderBy([{ column: 'r.created_at' }, { column: 'r.id' }])
  if (recordId) query.andWhere('r.id', recordId)
  const rows = await selectRows<Record<string, unknown> & { id: Buffer }>(
    db,
    query,
    'read records',
  )
  return rows.map((row) => ({
    ...(row as unknown as OpenedRecordRow),
    ...decodeColumns(TABLE, row, RECORD_ENCRYPTED_COLUMNS),
  }))
}

export async function updateRecord(
  db: Executor,
  patientId: Buffer,
  recordId: Buffer,
  changes: { kind?: RecordKind },
  values: PlainColumns<RecordEncryptedColumn>,
  keys: SqlFieldKeys,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db(TABLE)
      .update({
        ...(changes.kind ? { kind: changes.kind } : {}),
        ...sealColumns(db, TABLE, recordId, values, keys),
        updated_at: db.raw('CURRENT_TIMESTAMP(3)'),
      })
      .where({ id: recordId, patient_id: patientId }),
    'update clinical record',
  )
  return affectedRows === 1
}

export async function deleteRecord(
  db: Executor,
  patientId: Buffer,
  recordId: Buffer,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db(TABLE).delete().where({ id: recordId, patient_id: patientId }),
    'delete clinical record',
  )
  return affectedRows === 1
}
