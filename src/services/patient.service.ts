import { wipe } from '../crypto/bytes.js'
import { generatePatientKey } from '../crypto/patient-key.js'
import { sealPatientKey } from '../crypto/patient-key-seal.js'
import { newRowId, rowIdFromString, rowIdToString } from '../db/row-id.js'
import { NotFoundError } from '../errors/index.js'
import {
  insertPatient,
  readPatient as readPatientRow,
  updatePatient as updatePatientRow,
} from '../repositories/patient.repository.js'
import {
  insertGrant,
  insertKeyVersion,
  insertRecoverySeal,
  lockPatientKeyVersion,
} from '../repositories/patient-key.repository.js'
import { sealToEmergencyKey } from './break-glass.service.js'
import { DEMOGRAPHIC_FIELDS, decodeFields, encodeFields } from './chart-fields.js'
import { auditedTransaction } from './audited.js'
import type { Demographics, Patient } from './domain.js'
import { requireObject } from './field-values.js'
import { fieldKeysFor, patientFieldKeys } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import { recoveryRecipientId, type VaultContext } from './vault-context.js'

const FIRST_KEY_VERSION = 1

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
  const values = encodeFields(
    DEMOGRAPHIC_FIELDS,
    requireObject(demographics, 'demographics'),
    false,
  )
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
    await auditedTransaction(ctx, act, async (trx) => {
      await insertPatient(
        trx,
        { id, keyVersion: FIRST_KEY_VERSION, createdBy: session.userIdBytes },
        values,
        keys,
      )
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
    })
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
    return readPatientRow(trx, id, keys)
  })
  if (!row) throw new NotFoundError('patient', patientId)
  const fields = decodeFields(DEMOGRAPHIC_FIELDS, row)
  return {
    ...fields,
    fullName: fields.fullName ?? '',
    dateOfBirth: fields.dateOfBirth ?? '',
    id: patientId,
    keyVersion: row.current_key_version,
    createdBy: rowIdToString(row.created_by),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** Re-encrypts the given demographics; fields not given are left as they are. */
export async function updatePatient(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
  changes: Partial<Demographics>,
): Promise<void> {
  const id = rowIdFromString(patientId, 'patientId')
  const values = encodeFields(DEMOGRAPHIC_FIELDS, requireObject(changes, 'changes'), true)
  const act = {
    actorUserId: session.userIdBytes,
    action: 'patient.update',
    patientId: id,
  } as const
  await auditedTransaction(ctx, act, async (trx) => {
    // The row this UPDATE writes, locked exclusively first: with only the shared
    // lock of the grant check, two updates of one patient (or an update and a
    // waiting rotation) each held S and asked for X, a deadlock InnoDB broke by
    // rolling one back (seen in the concurrency soak). A patient that does not
    // exist locks nothing and is refused by the grant check like any other.
    await lockPatientKeyVersion(trx, id)
    const keys = await patientFieldKeys(trx, session, id, true)
    if (!(await updatePatientRow(trx, id, values, keys))) {
      throw new NotFoundError('patient', patientId)
    }
  })
}
