import { wipe } from '../crypto/bytes.js'
import { generatePatientKey } from '../crypto/patient-key.js'
import { sealPatientKey } from '../crypto/patient-key-seal.js'
import { newRowId, rowIdFromString, rowIdToString } from '../db/row-id.js'
import { NotFoundError, ValidationError } from '../errors/index.js'
import {
  insertDeclaredRow,
  selectDeclaredRows,
} from '../repositories/declared-rows.repository.js'
import {
  insertGrant,
  insertKeyVersion,
  insertRecoverySeal,
  lockPatientKeyVersion,
} from '../repositories/patient-key.repository.js'
import { sealToEmergencyKey } from './break-glass.service.js'
import { PATIENTS } from '../schema/chart-tables.js'
import { encodeRow, type OpenedRow } from '../schema/row-codec.js'
import { auditedTransaction } from './audited.js'
import { startChartState } from './chart-state.service.js'
import { decodeDeclaredRow, updateTracked } from './declared-rows.service.js'
import { recordingDuplicates } from './duplicate-values.js'
import { indexesOfNewRow, uniqueIndexError } from './row-indexes.js'
import type { Demographics, Patient } from './domain.js'
import { fieldKeysFor, patientFieldKeys } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import { searchRows, type SearchOptions, type SearchResult } from './search.service.js'
import { recoveryRecipientId, type VaultContext } from './vault-context.js'

const FIRST_KEY_VERSION = 1

/** The demographics of `input`; who created the patient is the library's to write. */
function demographicsOf(input: unknown, what: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError(what, 'must be an object')
  }
  if (Object.hasOwn(input, 'createdBy')) {
    throw new ValidationError('createdBy', 'is not a known field')
  }
  return input as Record<string, unknown>
}

/**
 * Creates a patient with a fresh patient key (version 1), sealed to the creator
 * and to the organisation's recovery key, and the demographics encrypted under
 * it: all in one transaction.
 */
export async function createPatient(
  ctx: VaultContext,
  session: UnlockedUser,
  demographics: Demographics,
): Promise<string> {
  const input = demographicsOf(demographics, 'demographics')
  const { plain, encrypted } = encodeRow(
    PATIENTS,
    { ...input, createdBy: session.userId },
    false,
    'demographics',
  )
  const indexes = indexesOfNewRow(ctx, PATIENTS, input)
  session.privateKey() // fail fast on a closed session
  const id = newRowId()
  const patientId = rowIdToString(id)
  const patientKey = generatePatientKey()
  try {
    const keys = fieldKeysFor(patientKey, FIRST_KEY_VERSION)
    const [ownSeal, recoverySeal] = await Promise.all([
      sealPatientKey(patientKey, session.publicKey, {
        patientId,
        keyVersion: FIRST_KEY_VERSION,
        recipientId: session.userId,
      }),
      sealPatientKey(patientKey, ctx.recoveryPublicKey, {
        patientId,
        keyVersion: FIRST_KEY_VERSION,
        recipientId: recoveryRecipientId(ctx.recoveryFingerprint),
      }),
    ])
    const act = {
      actorUserId: session.userIdBytes,
      action: 'patient.create',
      patientId: id,
    } as const
    await recordingDuplicates(
      ctx,
      session,
      auditedTransaction(ctx, act, async (trx) => {
        const row = await insertDeclaredRow(
          trx,
          PATIENTS,
          { id, patientId: id },
          plain,
          encrypted,
          keys,
          {
            current_key_version: FIRST_KEY_VERSION,
            ...indexes,
          },
        ).catch((err: unknown) => {
          throw uniqueIndexError(PATIENTS, err)
        })
        await insertKeyVersion(trx, id, FIRST_KEY_VERSION, session.userIdBytes)
        await insertGrant(trx, {
          patient_id: id,
          key_version: FIRST_KEY_VERSION,
          user_id: session.userIdBytes,
          sealed_key: ownSeal,
          granted_by: session.userIdBytes,
        })
        await insertRecoverySeal(trx, {
          patient_id: id,
          key_version: FIRST_KEY_VERSION,
          recovery_key_fingerprint: ctx.recoveryFingerprint,
          sealed_key: recoverySeal,
        })
        await sealToEmergencyKey(trx, ctx, id, FIRST_KEY_VERSION, patientKey)
        await startChartState(trx, ctx.auditKey, id, [row])
      }),
    )
    session.keyCache.set(patientId, keys)
    return patientId
  } finally {
    wipe(patientKey)
  }
}

export async function readPatient(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
): Promise<Patient> {
  const id = rowIdFromString(patientId, 'patientId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'patient.read',
    patientId: id,
  } as const
  const row = await auditedTransaction(ctx, act, async (trx) => {
    const keys = await patientFieldKeys(trx, session, id)
    const [found] = await selectDeclaredRows(trx, PATIENTS, id, keys, { ids: [id] }, [
      'current_key_version',
    ])
    // A grant without its patient row: not_found in the audit row, never a success.
    if (!found) throw new NotFoundError('patient', patientId)
    return found
  })
  return patientOf(row, patientId)
}

/** A patients row (read with `current_key_version`) as a Patient. */
export function patientOf(row: OpenedRow, patientId: string): Patient {
  // The patient is the row: its patientId is its id, not a field of a Patient.
  const { id: _id, patientId: _patientId, ...fields } = decodeDeclaredRow(PATIENTS, row)
  return {
    ...fields,
    id: patientId,
    keyVersion: row['current_key_version'] as number,
  } as Patient
}

/** Re-encrypts the given demographics; fields not given are left as they are. */
export async function updatePatient(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  changes: Partial<Demographics>,
): Promise<void> {
  const id = rowIdFromString(patientId, 'patientId')
  const input = demographicsOf(changes, 'changes')
  const { plain, encrypted } = encodeRow(PATIENTS, input, true, 'changes')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'patient.update',
    patientId: id,
  } as const
  await recordingDuplicates(
    ctx,
    session,
    auditedTransaction(ctx, act, async (trx) => {
      // The row this UPDATE writes, locked exclusively first: with only the shared
      // lock of the grant check, two updates of one patient (or an update and a
      // waiting rotation) each held S and asked for X, a deadlock InnoDB broke by
      // rolling one back (seen in the concurrency soak). A patient that does not
      // exist locks nothing and is refused by the grant check like any other.
      await lockPatientKeyVersion(trx, id)
      const keys = await patientFieldKeys(trx, session, id, true)
      if (
        !(await updateTracked(trx, ctx, PATIENTS, id, id, plain, encrypted, keys, input))
      ) {
        throw new NotFoundError('patient', patientId)
      }
    }),
  )
}

/** Patients by a search index of the patients table (search.service.ts). */
export function searchPatients(
  ctx: VaultContext,
  session: UnlockedUser,
  index: string,
  query: unknown,
  options: SearchOptions,
): Promise<SearchResult<Patient>> {
  return searchRows(
    ctx,
    session,
    PATIENTS,
    index,
    query,
    options,
    (row) => patientOf(row, rowIdToString(row['id'] as Buffer)),
    ['current_key_version'],
  )
}
