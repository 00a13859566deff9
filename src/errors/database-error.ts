import { VaultError } from './vault-error.js'

/** Server error numbers that mean "try the whole transaction again". */
const RETRYABLE_ERRNOS = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  // MariaDB 11.8 (innodb_snapshot_isolation=ON by default): a row read in the
  // transaction's snapshot was changed by another commit before being locked.
  1020, // ER_CHECKREAD
])

export interface DatabaseErrorInfo {
  /** mysql2's symbolic code, e.g. `ER_DUP_ENTRY`, or a connection code like `ECONNREFUSED`. */
  readonly driverCode: string
  readonly errno: number | undefined
  readonly sqlState: string | undefined
  /** Name of the violated index for duplicate-key errors. */
  readonly constraint: string | undefined
}

/**
 * A statement failed in the database. Built from the driver error's codes only:
 * the server's own message is dropped because it can quote bound values
 * (`Duplicate entry '…'`, `Incorrect string value: '…'`).
 */
export class DatabaseError extends VaultError implements DatabaseErrorInfo {
  readonly code = 'DATABASE' as const
  readonly driverCode: string
  readonly errno: number | undefined
  readonly sqlState: string | undefined
  readonly constraint: string | undefined

  constructor(info: DatabaseErrorInfo, operation: string) {
    const where = info.constraint ? ` on ${info.constraint}` : ''
    super(
      `${operation} failed: ${info.driverCode}${where}` +
        (info.errno === undefined
          ? ''
          : ` (errno ${info.errno}, SQLSTATE ${info.sqlState})`),
    )
    this.driverCode = info.driverCode
    this.errno = info.errno
    this.sqlState = info.sqlState
    this.constraint = info.constraint
  }

  /** Deadlock, lock-wait timeout or snapshot conflict: retry the whole transaction. */
  get retryable(): boolean {
    return this.errno !== undefined && RETRYABLE_ERRNOS.has(this.errno)
  }
}
