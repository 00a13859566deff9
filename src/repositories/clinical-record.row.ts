export const RECORD_KINDS = [
  'encounter',
  'note',
  'diagnosis',
  'medication',
  'allergy',
  'observation',
] as const
export type RecordKind = (typeof RECORD_KINDS)[number]

/** Envelope columns of `clinical_records`. */
export const RECORD_ENCRYPTED_COLUMNS = [
  'occurred_on_enc',
  'title_enc',
  'code_enc',
  'body_enc',
] as const
export type RecordEncryptedColumn = (typeof RECORD_ENCRYPTED_COLUMNS)[number]

/** A `clinical_records` row with its envelopes opened. */
export interface OpenedRecordRow extends Record<RecordEncryptedColumn, Buffer | null> {
  id: Buffer
  patient_id: Buffer
  kind: RecordKind
  author_id: Buffer
  created_at: Date
  updated_at: Date
}
