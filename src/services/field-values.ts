import { ValidationError } from '../errors/index.js'

/**
 * Checks of caller-supplied text before it is encrypted. Values are stored
 * verbatim (no trimming, no normalisation): what is written reads back exactly.
 * Messages name the field and the rule, never the value (it may be PHI).
 */

export interface TextRule {
  readonly required: boolean
  /** Largest size in UTF-8 bytes; the column is sized for it (see the migration). */
  readonly maxBytes: number
  readonly pattern?: { readonly regex: RegExp; readonly description: string }
}

/** 1,024 bytes: the size of the short envelope columns (VARBINARY(1093)). */
export const SHORT_TEXT_BYTES = 1024
/** 1 MiB for a clinical note (MEDIUMBLOB holds 16 MiB). */
export const LONG_TEXT_BYTES = 1024 * 1024

const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/
const DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?Z)?$/

export const DATE_RULE = { regex: DATE, description: 'must be a date YYYY-MM-DD' }
export const DATE_TIME_RULE = {
  regex: DATE_TIME,
  description:
    'must be a date YYYY-MM-DD or a UTC date-time YYYY-MM-DDTHH:MM[:SS[.sss]]Z',
}

function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed()
}

/** A real calendar date (rejects 2023-02-30). */
function isCalendarDate(value: string): boolean {
  const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number]
  const date = new Date(Date.UTC(y, m - 1, d))
  return (
    date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d
  )
}

/**
 * Encodes one field for sealing: `undefined` stays undefined (not given), `null`
 * clears an optional field, a string becomes its UTF-8 bytes.
 */
export function encodeText(
  value: unknown,
  field: string,
  rule: TextRule,
): Buffer | null | undefined {
  if (value === undefined || value === null) {
    if (rule.required) throw new ValidationError(field, 'is required')
    return value
  }
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a string')
  if (!isWellFormed(value)) {
    throw new ValidationError(field, 'must be valid Unicode (it holds a lone surrogate)')
  }
  if (rule.required && value.trim() === '')
    throw new ValidationError(field, 'must not be empty')
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length > rule.maxBytes) {
    throw new ValidationError(
      field,
      `must be at most ${rule.maxBytes} bytes in UTF-8, got ${bytes.length}`,
    )
  }
  if (rule.pattern) {
    if (!rule.pattern.regex.test(value) || !isCalendarDate(value)) {
      throw new ValidationError(field, rule.pattern.description)
    }
  }
  return bytes
}

// ignoreBOM: a leading U+FEFF is data here (BLNS #97), not a byte-order mark to strip.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Decodes an opened value. The bytes were valid UTF-8 when sealed and the MAC
 * proves they are unchanged, so a fatal decoder failing here means a bug, not data.
 */
export function decodeText(value: Buffer | null): string | null {
  if (value === null) return null
  return UTF8.decode(value)
}

/** Throws unless `value` is a plain object (the shape of every input record). */
export function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(field, 'must be an object')
  }
  return value as Record<string, unknown>
}
