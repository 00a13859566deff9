import { ConfigurationError } from '../errors/index.js'
import { productionFromEnv, runDoctor, runModeCheck } from './doctor.service.js'
import { createVault, type Vault, type VaultOptions } from './vault.js'

export interface OpenVaultOptions extends VaultOptions {
  /**
   * Refuse to start when the posture check reports a FAIL.
   * Default: `process.env.NODE_ENV === 'production'`.
   */
  readonly production?: boolean
  /** The application's MySQL account, for the doctor; default CURRENT_USER(). */
  readonly appUser?: string
}

/**
 * createVault(), preceded in production mode by the posture check (runDoctor
 * with `production: true`), and in every mode by its `block_encryption_mode`
 * line on the pool given (a pool that is not in aes-256-cbc would have every
 * seal and open refused; refusing the start says so once): any FAIL refuses the
 * start with a ConfigurationError naming the failed checks by id (their
 * details, which name settings and accounts, are for the doctor's report, not
 * for an exception).
 *
 * On a development server with root as the application's account,
 * `app_account_privileges` (and on MariaDB `watching_accounts`) FAIL in
 * production mode, so production mode refuses there; that is intended.
 *
 * @throws ConfigurationError when a key has the wrong length, when the pool is
 *   not in aes-256-cbc or, in production mode, when any check FAILs.
 */
export async function openVault(options: OpenVaultOptions): Promise<Vault> {
  const vault = createVault(options)
  const production = options.production ?? productionFromEnv()
  const checks = production
    ? await runDoctor(options.db, {
        production: true,
        recoveryPublicKey: options.recoveryPublicKey,
        ...(options.appUser === undefined ? {} : { appUser: options.appUser }),
        ...(options.tables === undefined ? {} : { tables: options.tables }),
      })
    : await runModeCheck(options.db)
  const failed = checks.filter((c) => c.status === 'FAIL').map((c) => c.id)
  if (failed.length > 0) {
    throw new ConfigurationError(
      `refusing to start${production ? ' in production mode' : ''}: the posture check ` +
        `failed on ${failed.join(', ')} (run the doctor for the details and fixes)`,
    )
  }
  return vault
}
