import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigurationError } from '../errors/index.js'
import { UsageError } from './command.js'

/**
 * Checks of flag values, run before a command asks for a password or opens a
 * connection: a mistake costs the caller nothing but the message. Where the
 * library checks the same value, the check throws what the library would (an id
 * that is not a UUID is the library's ValidationError, exit 5), so the outcome
 * does not depend on which side noticed first.
 */

/** An id the library takes as `field` (e.g. `patientId`), checked by the library's own rule. */
export function uuidOf(field: string) {
  return async (value: string): Promise<void> => {
    // Loaded here, not at start: the uuid package is not needed for --help.
    const { rowIdFromString } = await import('../db/row-id.js')
    rowIdFromString(value, field)
  }
}

export function isoDate(value: string, flag: string): void {
  if (Number.isNaN(new Date(value).getTime()))
    throw new UsageError(`--${flag} must be a date or date-time (ISO 8601)`)
}

export function integerFrom(min: number, max: number) {
  return (value: string, flag: string): void => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || n < min || n > max)
      throw new UsageError(`--${flag} must be ${min} to ${max}`)
  }
}

export function oneOf(...choices: readonly string[]) {
  return (value: string, flag: string): void => {
    if (!choices.includes(value))
      throw new UsageError(`--${flag} must be ${choices.join(' or ')}`)
  }
}

/** Not empty once trimmed (a display name of spaces). */
export function nonBlank(value: string, flag: string): void {
  if (value.trim() === '') throw new UsageError(`--${flag} must not be blank`)
}

/** A file the command will create: never one that exists (a key file may be the only copy). */
export function newFile(value: string): void {
  if (existsSync(value)) {
    throw new ConfigurationError(
      `${value} exists; refusing to overwrite a recovery key (move it away first)`,
    )
  }
  if (!existsSync(dirname(value)))
    throw new ConfigurationError(`the folder of ${value} does not exist`)
}

/** A MySQL account as CURRENT_USER() writes it: USER@HOST, or USER for any host. */
export function account(value: string, flag: string): void {
  // Split at the last @, as the doctor reads it (a quoted user name may hold one).
  const at = value.lastIndexOf('@')
  const [user, host] = at < 0 ? [value, '%'] : [value.slice(0, at), value.slice(at + 1)]
  if (user.trim() === '' || host.trim() === '')
    throw new UsageError(`--${flag} must be an account USER@HOST, e.g. emr_app@10.0.0.%`)
}

/**
 * The recovery key file: readable by its owner only, well formed, and holding the
 * private half of the recovery public key this deployment is configured with.
 */
export async function recoveryKeyFile(value: string): Promise<void> {
  // Loaded here, not at start: the key code and configuration are not needed for --help.
  const [{ readRecoveryKeyFile }, { devRecoveryPublicKey }] = await Promise.all([
    import('./recovery-key-file.js'),
    import('./deployment-keys.js'),
  ])
  const { publicKey, privateKey } = readRecoveryKeyFile(value)
  privateKey.fill(0)
  if (!publicKey.equals(devRecoveryPublicKey())) {
    throw new ConfigurationError(
      'the recovery private key does not match the configured recovery public key',
    )
  }
}
