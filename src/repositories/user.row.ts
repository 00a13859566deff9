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
