import {
  AccessDeniedError,
  AuthenticationError,
  ConfigurationError,
  DatabaseError,
  IntegrityError,
  NotFoundError,
  ValidationError,
  VaultError,
} from '../errors/index.js'
import { EXIT, UsageError } from './command.js'
import { InterruptedError } from './interrupt.js'
import { MissingInputError } from './io.js'

/**
 * What the CLI says about an error: a stable code (the library's VaultError code,
 * or USAGE, INTERRUPTED, INTERNAL for the CLI's own), the exit code, and one line.
 * Messages are the library's, built from fixed text and identifiers: never a
 * stack, a driver message or a value.
 */
export interface ErrorReport {
  readonly code: string
  readonly message: string
  readonly exitCode: number
}

const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST']

export function reportOf(e: unknown): ErrorReport {
  const of = (code: string, exitCode: number, message: string): ErrorReport => ({
    code,
    message,
    exitCode,
  })
  if (e instanceof UsageError || e instanceof MissingInputError)
    return of('USAGE', EXIT.usage, e.message)
  if (e instanceof InterruptedError) return of('INTERRUPTED', e.exitCode, e.message)
  if (e instanceof DatabaseError) {
    return of(
      e.code,
      EXIT.configuration,
      UNREACHABLE.includes(e.driverCode)
        ? `cannot reach the database server (${e.driverCode}); check EMR_VAULT_DB_HOST/PORT or start it with: npx emr-vault db start`
        : e.message,
    )
  }
  if (e instanceof VaultError) {
    const exitCode =
      e instanceof ConfigurationError
        ? EXIT.configuration
        : e instanceof AuthenticationError || e instanceof AccessDeniedError
          ? EXIT.denied
          : e instanceof ValidationError || e instanceof NotFoundError
            ? EXIT.invalid
            : e instanceof IntegrityError
              ? EXIT.integrity
              : EXIT.internal
    return of(e.code, exitCode, e.message)
  }
  // The driver's own error, before the library could wrap it (the first connection).
  const driverCode = (e as { code?: unknown } | null)?.code
  if (
    driverCode === 'ECONNREFUSED' ||
    driverCode === 'ENOTFOUND' ||
    driverCode === 'ER_ACCESS_DENIED_ERROR'
  ) {
    return of(
      'DATABASE',
      EXIT.configuration,
      `cannot connect to the database server (${String(driverCode)}); check EMR_VAULT_DB_* or start it with: npx emr-vault db start`,
    )
  }
  return of(
    'INTERNAL',
    EXIT.internal,
    `unexpected error: ${(e as Error)?.name ?? 'Error'}`,
  )
}

/** The --json form of an error, one line for stderr. */
export function errorJson(report: ErrorReport): string {
  return JSON.stringify({
    error: { code: report.code, message: report.message, exitCode: report.exitCode },
  })
}
