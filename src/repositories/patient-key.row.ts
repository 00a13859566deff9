/** `patient_key_grants`: a patient key version sealed to one user. */
export interface PatientKeyGrantRow {
  patient_id: Buffer
  key_version: number
  user_id: Buffer
  sealed_key: Buffer
  granted_by: Buffer
  granted_at: Date
}

/** `patient_key_recovery_seals`: a patient key version sealed to the recovery key. */
export interface RecoverySealRow {
  patient_id: Buffer
  key_version: number
  recovery_key_fingerprint: Buffer
  sealed_key: Buffer
  created_at: Date
}

/** A grant joined with its grantee's name, for access listings. */
export interface GranteeRow {
  user_id: Buffer
  username: string
  display_name: string
  granted_by: Buffer
  granted_at: Date
  key_version: number
}
