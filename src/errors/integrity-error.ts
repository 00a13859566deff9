import { VaultError } from './vault-error.js'

/**
 * A stored value failed its MAC or AEAD check: it was altered, moved to another
 * row, column or patient, or is opened with the wrong key. Never garbage data.
 */
export class IntegrityError extends VaultError {
  readonly code = 'INTEGRITY' as const
}
