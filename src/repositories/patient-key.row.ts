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

/** `patient_key_emergency_seals`: a patient key version sealed to one emergency key version. */
export interface EmergencySealRow {
  patient_id: Buffer
  key_version: number
  /** The version of the emergency key E the seal is under (emergency_key.version). */
  emergency_key_version: number
  sealed_key: Buffer
}

/**
 * `emergency_key`: one version of the organisation's break-glass key pair (public
 * half; private half sealed). The current key is the highest version; two rows
 * only while a rotation runs.
 */
export interface EmergencyKeyRow {
  version: number
  public_key: Buffer
  /**
   * Pin of (version, public_key) under the audit key (crypto/emergency-key-pin.ts);
   * on version 1 possibly the older unversioned MAC, or null on a key made before it.
   */
  public_key_mac: Buffer | null
  recovery_sealed_private_key: Buffer
  created_by: Buffer
  created_at: Date
}

/** `emergency_key_holders`: one emergency key version's private key sealed to one user. */
export interface EmergencyKeyHolderRow {
  user_id: Buffer
  emergency_key_version: number
  sealed_private_key: Buffer
  granted_by: Buffer
  granted_at: Date
}
