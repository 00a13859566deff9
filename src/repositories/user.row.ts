/** A `users` row as stored (docs/concepts.md). */
export interface UserRow {
  id: Buffer
  username: string
  display_name: string
  /** MySQL SET: comma-separated role names. */
  roles: string
  password_verifier: string
  kdf_salt: Buffer
  kdf_log_n: number
  kdf_r: number
  kdf_p: number
  public_key: Buffer
  /** 1 for the key the user registered with, one more for every new key pair. */
  public_key_version: number
  /**
   * MAC of (id, public_key_version, public_key) under the certification key
   * (crypto/user-key-certificate.ts); NULL on rows made before certificates
   * existed, until an administrator certifies them.
   */
  public_key_certificate: Buffer | null
  wrapped_private_key: Buffer
  disabled_at: Date | null
  password_changed_at: Date
  created_at: Date
}

/** The columns a password change or KDF upgrade rewrites, together. */
export type UserCredentialColumns = Pick<
  UserRow,
  | 'password_verifier'
  | 'kdf_salt'
  | 'kdf_log_n'
  | 'kdf_r'
  | 'kdf_p'
  | 'wrapped_private_key'
>
