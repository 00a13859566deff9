import { VaultError } from './vault-error.js'

/**
 * Login or unlock failed. The message is the same for an unknown user, a wrong
 * password and a disabled account so that it does not tell them apart.
 */
export class AuthenticationError extends VaultError {
  readonly code = 'AUTHENTICATION' as const

  constructor(message = 'authentication failed') {
    super(message)
  }
}
