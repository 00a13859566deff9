import { newRowId, rowIdFromString, rowIdToString } from '../db/row-id.js'
import { NotFoundError, ValidationError } from '../errors/index.js'
import {
  RECORD_KINDS,
  type OpenedRecordRow,
  type RecordKind,
} from '../repositories/clinical-record.row.js'
import {
  deleteRecord as deleteRecordRow,
  insertRecord,
  readRecords,
  updateRecord as updateRecordRow,
} from '../repositories/clinical-record.repository.js'
import { decodeFields, encodeFields, RECORD_FIELDS } from './chart-fields.js'
import { auditedTransaction } from './audited.js'
import type { ClinicalRecord, NewClinicalRecord } from './domain.js'
import { requireObject } from './field-values.js'
import { patientFieldKeys } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

function checkKind(value: unknown): RecordKind {
  if (typeof value !== 'string' || !(RECORD_KINDS as readonly string[]).includes(value)) {
    throw new ValidationError('kind', `must be one of ${RECORD_KINDS.join(', ')}`)
  }
  return value as RecordKind
}

function toDomain(row: OpenedRecordRow): ClinicalRecord {
  const fields = decodeFields(RECORD_FIELDS, row)
  return {
    id: rowIdToString(row.id),
    patientId: rowIdToString(row.patient_id),
    kind: row.kind,
    authorId: rowIdToString(row.author_id),
    occurredOn: fields.occurredOn ?? '',
    title: fields.title ?? '',
    code: fields.code,
    body: fields.body,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export async function addRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  record: NewClinicalRecord,
): Promise<string> {
  const pid = rowIdFromString(patientId, 'patientId')
  const input = requireObject(record, 'record')
  const kind = checkKind(input['kind'])
  const values = encodeFields(RECORD_FIELDS, input, false, ['kind'])
  const id = newRowId()
  const act = {
    actorUserId: session.userIdBytes,
    action: 'record.create',
    patientId: pid,
    detail: `record ${rowIdToString(id)}`,
  } as const
  await auditedTransaction(ctx, act, async (trx) => {
    // FOR SHARE holds off a rotation until this record is written under the current key.
    const keys = await patientFieldKeys(trx, session, pid, true)
    await insertRecord(
      trx,
      { id, patientId: pid, kind, authorId: session.userIdBytes },
      values,
      keys,
    )
  })
  return rowIdToString(id)
}

export async function listRecords(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
): Promise<ClinicalRecord[]> {
  const pid = rowIdFromString(patientId, 'patientId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'record.list',
    patientId: pid,
  } as const
  const rows = await auditedTransaction(
    ctx,
    act,
    async (trx) => {
      const keys = await patientFieldKeys(trx, session, pid)
      return readRecords(trx, pid, keys)
    },
    (rows) => ({ detail: `${rows.length} records` }),
  )
  return rows.map(toDomain)
}

export async function readRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  recordId: string,
): Promise<ClinicalRecord> {
  const pid = rowIdFromString(patientId, 'patientId')
  const rid = rowIdFromString(recordId, 'recordId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'record.read',
    patientId: pid,
    detail: `record ${recordId}`,
  } as const
  const [row] = await auditedTransaction(ctx, act, async (trx) => {
    const keys = await patientFieldKeys(trx, session, pid)
    return readRecords(trx, pid, keys, rid)
  })
  if (!row) throw new NotFoundError('clinical record', recordId)
  return toDomain(row)
}

export async function updateRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  recordId: string,
  changes: Partial<NewClinicalRecord>,
): Promise<void> {
  const pid = rowIdFromString(patientId, 'patientId')
  const rid = rowIdFromString(recordId, 'recordId')
  const input = requireObject(changes, 'changes')
  const kind = input['kind'] === undefined ? undefined : checkKind(input['kind'])
  const values = encodeFields(RECORD_FIELDS, input, true, ['kind'])
  const act = {
    actorUserId: session.userIdBytes,
    action: 'record.update',
    patientId: pid,
    detail: `record ${recordId}`,
  } as const
  await auditedTransaction(ctx, act, async (trx) => {
    const keys = await patientFieldKeys(trx, session, pid, true)
    const updated = await updateRecordRow(
      trx,
      pid,
      rid,
      kind ? { kind } : {},
      values,
      keys,
    )
    if (!updated) throw new NotFoundError('clinical record', recordId)
  })
}

export async function deleteRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  recordId: string,
): Promise<void> {
  const pid = rowIdFromString(patientId, 'patientId')
  const rid = rowIdFromString(recordId, 'recordId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'record.delete',
    patientId: pid,
    detail: `record ${recordId}`,
  } as const
  await auditedTransaction(ctx, act, async (trx) => {
    await patientFieldKeys(trx, session, pid, true)
    if (!(await deleteRecordRow(trx, pid, rid)))
      throw new NotFoundError('clinical record', recordId)
  })
}
