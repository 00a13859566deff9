import { VaultError } from './vault-error.js'

/** The authenticated user holds no grant (or role) for what was asked. */
export class AccessDeniedError extends VaultError {
  readonly code = 'ACCESS_DENIED' as const
}
