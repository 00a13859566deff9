import { VaultError } from './vault-error.js'

/** The server, its settings or the deployment's configuration cannot be used safely. */
export class ConfigurationError extends VaultError {
  readonly code = 'CONFIGURATION' as const
}
