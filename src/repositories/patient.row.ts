/** Envelope columns of `patients` (demographics). */
export const PATIENT_ENCRYPTED_COLUMNS = [
  'full_name_enc',
  'date_of_birth_enc',
  'sex_enc',
  'national_id_enc',
  'address_enc',
  'phone_enc',
  'email_enc',
] as const
export type PatientEncryptedColumn = (typeof PATIENT_ENCRYPTED_COLUMNS)[number]

/** A `patients` row with its envelopes opened. */
export interface OpenedPatientRow extends Record<PatientEncryptedColumn, Buffer | null> {
  id: Buffer
  current_key_version: number
  created_by: Buffer
  created_at: Date
  updated_at: Date
}
