/** `patient_key_grants`: a patient key version sealed to one user. */
export interface PatientKeyGrantRow {
  patient_id: Buffer
  key_version: number
  user_id: Buffer
  sealed_key: Buffer
  granted_by: Buffer
  granted_at: Date
  /** Set on break-glass grants: no access after it. */
  expires_at: Date | null
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
  expires_at: Date | null
  key_version: number
}

/** `patient_key_emergency_seals`: a patient key version sealed to the emergency key. */
export interface EmergencySealRow {
  patient_id: Buffer
  key_version: number
  sealed_key: Buffer
}

/** `emergency_key`: the organisation's break-glass key pair (public half; private half sealed). */
export interface EmergencyKeyRow {
  id: number
  public_key: Buffer
  /** HMAC of public_key under the audit key; null on rows made before it existed. */
  public_key_mac: Buffer | null
  recovery_sealed_private_key: Buffer
  created_by: Buffer
  created_at: Date
}

/** `emergency_key_holders`: the emergency private key sealed to one user. */
export interface EmergencyKeyHolderRow {
  user_id: Buffer
  sealed_private_key: Buffer
  granted_by: Buffer
  granted_at: Date
}
