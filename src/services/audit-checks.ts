import { AUDIT_ID_BYTES, AUDIT_KEY_BYTES } from '../crypto/audit-mac.js'
import { isWellFormed } from '../crypto/checks.js'
import { rowIdFromString } from '../db/row-id.js'
import { ConfigurationError, ValidationError } from '../errors/index.js'
import {
  AUDIT_OUTCOMES,
  AUDIT_TABLES,
  type AuditOutcome,
  type AuditTables,
} from '../repositories/audit-log.row.js'

/**
 * Argument checks of the audit service. Messages name the argument and the rule,
 * never the value: a reason is clinician free text and could hold PHI by mistake.
 */

/** Every act the audit log records. New actions need no migration (`action` is VARCHAR(40)). */
export const AUDIT_ACTIONS = [
  'user.register',
  'user.login',
  'user.disable',
  'user.enable',
  'user.certify',
  'password.change',
  'kdf.upgrade',
  'patient.create',
  'patient.read',
  'patient.update',
  'record.create',
  'record.list',
  'record.read',
  'record.update',
  'record.delete',
  'row.create',
  'row.read',
  'row.list',
  'row.open',
  'row.update',
  'row.delete',
  'access.list',
  'grant',
  'revoke',
  'rotate',
  'recovery.regrant',
  'recovery.restore',
  'break_glass.open',
  'break_glass.expire',
  'audit.verify',
  'audit.report',
  'emergency.setup',
  'emergency.grant',
  'emergency.revoke',
  'emergency.rotate',
  'convert.plaintext',
  'convert.legacy',
  'convert.drop',
  'chart.read',
  'chart.baseline',
  'search',
  'search.reindex',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/** `reason` is VARCHAR(500): characters, i.e. code points in utf8mb4. */
export const AUDIT_REASON_MAX_CHARS = 500
/** `detail` is VARCHAR(200) and holds printable ASCII only. */
export const AUDIT_DETAIL_MAX_CHARS = 200
export const AUDIT_PAGE_SIZE_DEFAULT = 1000
export const AUDIT_PAGE_SIZE_MAX = 10_000

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

/** The audit key must be exactly 32 bytes; anything else is a deployment mistake. */
export function checkAuditKey(value: unknown): asserts value is Buffer {
  if (!Buffer.isBuffer(value) || value.length !== AUDIT_KEY_BYTES) {
    throw new ConfigurationError(
      `"auditKey" must be a Buffer of ${AUDIT_KEY_BYTES} bytes` +
        (Buffer.isBuffer(value) ? `, got ${value.length}` : ''),
    )
  }
}

export function checkTables(value: AuditTables | undefined): AuditTables {
  if (value === undefined) return AUDIT_TABLES
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof value.log !== 'string' ||
    typeof value.head !== 'string' ||
    !TABLE_NAME.test(value.log) ||
    !TABLE_NAME.test(value.head)
  ) {
    throw new ValidationError('tables', 'must name two tables (letters, digits, _)')
  }
  return value
}

export function checkAction(value: unknown, field: string): AuditAction {
  if (typeof value !== 'string' || !(AUDIT_ACTIONS as readonly string[]).includes(value))
    throw new ValidationError(field, 'must be one of the audit actions (AUDIT_ACTIONS)')
  return value as AuditAction
}

export function checkOutcome(value: unknown, field: string): AuditOutcome {
  if (typeof value !== 'string' || !(AUDIT_OUTCOMES as readonly string[]).includes(value))
    throw new ValidationError(field, `must be one of ${AUDIT_OUTCOMES.join(', ')}`)
  return value as AuditOutcome
}

/** An optional 16-byte id of an event the services record: undefined and null both mean "none". */
export function checkOptionalId(value: unknown, field: string): Buffer | null {
  if (value === undefined || value === null) return null
  if (!Buffer.isBuffer(value) || value.length !== AUDIT_ID_BYTES)
    throw new ValidationError(field, `must be a ${AUDIT_ID_BYTES}-byte id or null`)
  return value
}

/**
 * An optional id given by a caller (a report filter): a UUID string, as every id
 * the library hands out is. Undefined and null both mean "no filter".
 */
export function checkOptionalUuid(value: unknown, field: string): Buffer | null {
  if (value === undefined || value === null) return null
  return rowIdFromString(value, field)
}

/** C0 and C1 control characters except TAB and LF (a reason may have lines). */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}

/**
 * A break-glass or other reason: free text from the clinician, which callers must
 * tell them must not contain PHI. Stored verbatim (the MAC covers the exact text).
 */
export function checkReason(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string')
    throw new ValidationError('reason', 'must be a string or null')
  if (!isWellFormed(value))
    throw new ValidationError(
      'reason',
      'must be well-formed Unicode (it has a lone surrogate)',
    )
  if (value.trim() === '')
    throw new ValidationError('reason', 'must not be blank (pass null for no reason)')
  if ([...value].length > AUDIT_REASON_MAX_CHARS)
    throw new ValidationError(
      'reason',
      `must be at most ${AUDIT_REASON_MAX_CHARS} characters`,
    )
  if (hasControlCharacter(value))
    throw new ValidationError(
      'reason',
      'must not contain control characters other than tab and newline',
    )
  return value
}

/**
 * A short non-PHI fact about the act (`v2->v3`, `N=2^17->2^18`). Printable ASCII
 * only: a deliberate narrowing, so that free text (names, notes) has nowhere to go.
 */
export function checkDetail(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > AUDIT_DETAIL_MAX_CHARS ||
    !PRINTABLE_ASCII.test(value)
  ) {
    throw new ValidationError(
      'detail',
      `must be 1 to ${AUDIT_DETAIL_MAX_CHARS} printable ASCII characters, or null`,
    )
  }
  return value
}

export function checkPageSize(value: unknown, field: string): number {
  if (value === undefined) return AUDIT_PAGE_SIZE_DEFAULT
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > AUDIT_PAGE_SIZE_MAX
  ) {
    throw new ValidationError(
      field,
      `must be an integer from 1 to ${AUDIT_PAGE_SIZE_MAX}`,
    )
  }
  return value
}

export function checkDate(value: unknown, field: string): Date | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new ValidationError(field, 'must be a valid Date')
  return value
}

/** 2^64: seq is BIGINT UNSIGNED. */
const SEQ_LIMIT = 1n << 64n

/**
 * A seq given by a caller: the decimal string the library hands out (no sign,
 * no leading zeros, no spaces), below 2^64.
 */
export function checkSeq(value: unknown, field: string): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(value)) {
    throw new ValidationError(field, 'must be a seq: a decimal string such as "42"')
  }
  const seq = BigInt(value)
  if (seq >= SEQ_LIMIT) throw new ValidationError(field, 'must be below 2^64')
  return seq
}
