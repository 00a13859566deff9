import { VaultError } from './vault-error.js'

/** The named entity does not exist (or is not visible to the caller). */
export class NotFoundError extends VaultError {
  readonly code = 'NOT_FOUND' as const

  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} not found`)
  }
}
