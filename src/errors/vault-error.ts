/**
 * Stable codes callers branch on. They never change meaning once published;
 * messages may be reworded.
 */
export type VaultErrorCode =
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'AUTHENTICATION'
  | 'ACCESS_DENIED'
  | 'INTEGRITY'
  | 'CONFIGURATION'
  | 'DATABASE'
  | 'RATE_LIMITED'

/**
 * Base of every error emr-vault throws on purpose.
 *
 * Rule for all subclasses: the message and every field are built from fixed text,
 * identifiers and counts only. No key, password, plaintext or bound value may
 * reach `message`, `cause`, a field or the stack: errors end up in logs, bug
 * reports and monitoring, which are not cleared to hold patient data or keys.
 */
export abstract class VaultError extends Error {
  abstract readonly code: VaultErrorCode

  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}
