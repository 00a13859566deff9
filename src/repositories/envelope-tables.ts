import { envelopeAad } from '../crypto/envelope.js'
import type { EnvelopeTable } from '../sql/reseal-rows-sql.js'
import { RECORD_ENCRYPTED_COLUMNS } from './clinical-record.row.js'
import { PATIENT_ENCRYPTED_COLUMNS } from './patient.row.js'

function prefixes(table: string, columns: readonly string[]): Record<string, Buffer> {
  return Object.fromEntries(
    columns.map((c) => [c, envelopeAad(table, c, Buffer.alloc(16)).subarray(0, -16)]),
  )
}

/**
 * Every table that holds a patient's envelopes. A rotation re-encrypts all of
 * them; a new encrypted table must be added here or rotation would leave it
 * under a retired key (test/lifecycle/rotation.test.ts checks the list against
 * the schema).
 */
export const PATIENT_ENVELOPE_TABLES: readonly EnvelopeTable[] = [
  {
    table: 'patients',
    columns: PATIENT_ENCRYPTED_COLUMNS,
    patientColumn: 'id',
    aadPrefixes: prefixes('patients', PATIENT_ENCRYPTED_COLUMNS),
  },
  {
    table: 'clinical_records',
    columns: RECORD_ENCRYPTED_COLUMNS,
    patientColumn: 'patient_id',
    aadPrefixes: prefixes('clinical_records', RECORD_ENCRYPTED_COLUMNS),
  },
]
