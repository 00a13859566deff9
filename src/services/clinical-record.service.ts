import { rowIdFromString } from '../db/row-id.js'
import { ValidationError } from '../errors/index.js'
import { selectDeclaredRows } from '../repositories/declared-rows.repository.js'
import { CLINICAL_RECORDS } from '../schema/chart-tables.js'
import { auditedTransaction } from './audited.js'
import * as rows from './declared-rows.service.js'
import type { ClinicalRecord, NewClinicalRecord } from './domain.js'
import { patientFieldKeys } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/**
 * A patient's clinical records: the CLINICAL_RECORDS declaration through the
 * generic row acts, with the author written by the library, and the whole
 * chart listed at once.
 */

/** The record fields of `input`; the author is the library's to write. */
function recordOf(input: unknown, what: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError(what, 'must be an object')
  }
  if (Object.hasOwn(input, 'authorId')) {
    throw new ValidationError('authorId', 'is not a known field')
  }
  return input as Record<string, unknown>
}

export async function addRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  record: NewClinicalRecord,
): Promise<string> {
  const input = { ...recordOf(record, 'record'), authorId: session.userId }
  return rows.insertRow(ctx, session, CLINICAL_RECORDS, patientId, input)
}

/** Every record of the patient, oldest first. */
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
  const found = await auditedTransaction(
    ctx,
    act,
    async (trx) => {
      const keys = await patientFieldKeys(trx, session, pid)
      return selectDeclaredRows(trx, CLINICAL_RECORDS, pid, keys)
    },
    (found) => ({ detail: `${found.length} records` }),
  )
  return found.map(
    (row) => rows.decodeDeclaredRow(CLINICAL_RECORDS, row) as ClinicalRecord,
  )
}

export async function readRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  recordId: string,
): Promise<ClinicalRecord> {
  rowIdFromString(recordId, 'recordId')
  return (await rows.getRow(
    ctx,
    session,
    CLINICAL_RECORDS,
    patientId,
    recordId,
  )) as ClinicalRecord
}

export async function updateRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  recordId: string,
  changes: Partial<NewClinicalRecord>,
): Promise<void> {
  rowIdFromString(recordId, 'recordId')
  const input = recordOf(changes, 'changes')
  await rows.updateRow(ctx, session, CLINICAL_RECORDS, patientId, recordId, input)
}

export async function deleteRecord(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  recordId: string,
): Promise<void> {
  rowIdFromString(recordId, 'recordId')
  await rows.deleteRow(ctx, session, CLINICAL_RECORDS, patientId, recordId)
}
