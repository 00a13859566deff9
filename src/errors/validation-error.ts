import { VaultError } from './vault-error.js'

/** Bad input from the caller; nothing was changed. `field` names the argument. */
export class ValidationError extends VaultError {
  readonly code = 'VALIDATION' as const

  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`"${field}" ${problem}`)
  }
}
