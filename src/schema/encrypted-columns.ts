import { types } from 'node:util'
import { isWellFormed } from '../crypto/checks.js'
import { ValidationError } from '../errors/index.js'
import type { EncryptedColumn, EncryptedType } from './column.js'
import {
  type ColumnOptions,
  commonOptions,
  MAX_ENCRYPTED_BYTES,
  notAnEncoding,
  integerRange,
  wholeNumberOption,
} from './column-options.js'
import { plainJsonProblem } from './plain-json.js'

/**
 * The encrypted column types. `encode` checks a value and turns it into the
 * bytes that are sealed; `decode` turns opened bytes back into exactly the
 * value written. The byte formats (the plaintext inside each envelope):
 *
 *   text      the string's UTF-8 bytes, verbatim (no trimming, no normalising);
 *             the same bytes the chart's text fields have always held
 *   date      10 ASCII bytes YYYY-MM-DD, a calendar date in years 0001-9999
 *   dateTime  24 ASCII bytes of Date#toISOString(), YYYY-MM-DDTHH:MM:SS.sssZ (UTC)
 *   integer   decimal ASCII, at most 17 bytes: -?(0|[1-9][0-9]*), a safe integer;
 *             -0 is stored as 0 (`-0 === 0`, and an integer has one zero)
 *   decimal   the caller's string verbatim, -?(0|[1-9][0-9]*)(\.[0-9]+)?
 *             within DECIMAL(p,s): '1.50' stays '1.50'
 *   boolean   one ASCII byte, '1' or '0'
 *   json      JSON.stringify's UTF-8 text of a plain JSON value
 *   bytes     the bytes themselves
 *
 * Messages name the field and the rule, never the value. Opened bytes not in
 * the column's format are an IntegrityError (nothing is guessed).
 *
 * @example
 * encrypted.text({ maxBytes: 200 })
 * encrypted.decimal({ precision: 8, scale: 3, nullable: true })
 * encrypted.json({ maxBytes: 4096, check: isDosage })
 */

export interface TextPattern {
  /** true when the value matches; anything else (or a throw) refuses it. */
  test(value: string): boolean
  /** The rule as the error message states it, e.g. 'must be a date YYYY-MM-DD'. */
  readonly description: string
}

export interface TextOptions<N extends boolean> extends ColumnOptions<N> {
  /** Largest size in UTF-8 bytes. */
  readonly maxBytes: number
  readonly pattern?: TextPattern
  /** Accept '' and whitespace-only strings in a non-nullable column. */
  readonly allowBlank?: boolean
}

export interface IntegerOptions<N extends boolean> extends ColumnOptions<N> {
  readonly min?: number
  readonly max?: number
}

export interface DecimalOptions<N extends boolean> extends ColumnOptions<N> {
  /** Digits in all, 1 to 65 (as MySQL's DECIMAL). */
  readonly precision: number
  /** Digits after the point, 0 to 30 and at most `precision`. */
  readonly scale: number
}

export interface JsonOptions<T, N extends boolean> extends ColumnOptions<N> {
  /** Largest size of the JSON text in UTF-8 bytes. */
  readonly maxBytes: number
  /**
   * The application's schema: runs on the value as it will read back (parsed
   * from the stored text) and must return `true`. Any other result (a
   * safeParse-style object included) or a throw refuses the value.
   */
  readonly check: (value: unknown) => value is T
}

export interface BytesOptions<N extends boolean> extends ColumnOptions<N> {
  readonly maxBytes: number
}

// ignoreBOM: a leading U+FEFF is data (it is in the naughty-strings list), not a mark to strip.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decodeUtf8(bytes: Buffer, type: EncryptedType): string {
  try {
    return UTF8.decode(bytes)
  } catch {
    throw notAnEncoding(type)
  }
}

function ascii(bytes: Buffer): string {
  return bytes.toString('latin1')
}

/**
 * Factories return a column of `NoInfer<N>`: written inside defineTable({ encrypted: {...} }),
 * TypeScript would otherwise infer N from the expected type (a column of any
 * nullability), `boolean`, and every field would read back as `T | null`.
 */
function build<T, N extends boolean>(
  type: EncryptedType,
  { nullable, column }: ReturnType<typeof commonOptions>,
  maxBytes: number,
  encode: (value: unknown, field: string, nullable: boolean) => Buffer,
  decode: (bytes: Buffer) => T,
): EncryptedColumn<T, NoInfer<N>> {
  return Object.freeze({
    kind: 'encrypted' as const,
    type,
    nullable: nullable as N,
    column,
    maxBytes,
    encode: (value: unknown, field: string) => encode(value, field, nullable),
    decode,
  })
}

function maxBytesOption(options: { maxBytes: unknown }, factory: string): number {
  return wholeNumberOption(
    options.maxBytes,
    `${factory}.maxBytes`,
    1,
    MAX_ENCRYPTED_BYTES,
  )
}

function patternOption(pattern: unknown): TextPattern | undefined {
  if (pattern === undefined) return undefined
  const p = pattern as Partial<TextPattern> & { flags?: unknown }
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.test !== 'function' ||
    typeof p.description !== 'string' ||
    p.description === ''
  ) {
    throw new ValidationError(
      'encrypted.text.pattern',
      'must be an object with test(value) and a description',
    )
  }
  // A global or sticky RegExp's test() starts at lastIndex, left by the previous call.
  if (pattern instanceof RegExp && (pattern.global || pattern.sticky)) {
    throw new ValidationError('encrypted.text.pattern', 'must not have the g or y flag')
  }
  return p as TextPattern
}

function passes(pattern: TextPattern, value: string): boolean {
  try {
    return pattern.test(value) === true
  } catch {
    return false
  }
}

function text<N extends boolean = false>(
  options: TextOptions<N>,
): EncryptedColumn<string, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.text')
  const maxBytes = maxBytesOption(options, 'encrypted.text')
  const pattern = patternOption(options.pattern)
  if (options.allowBlank !== undefined && typeof options.allowBlank !== 'boolean') {
    throw new ValidationError('encrypted.text.allowBlank', 'must be true or false')
  }
  const allowBlank = options.allowBlank ?? false
  return build<string, N>(
    'text',
    common,
    maxBytes,
    (value, field, nullable) => {
      if (typeof value !== 'string') throw new ValidationError(field, 'must be a string')
      if (!isWellFormed(value)) {
        throw new ValidationError(
          field,
          'must be valid Unicode (it holds a lone surrogate)',
        )
      }
      if (!nullable && !allowBlank && value.trim() === '') {
        throw new ValidationError(field, 'must not be empty')
      }
      const bytes = Buffer.from(value, 'utf8')
      if (bytes.length > maxBytes) {
        throw new ValidationError(
          field,
          `must be at most ${maxBytes} bytes in UTF-8, got ${bytes.length}`,
        )
      }
      if (pattern && !passes(pattern, value)) {
        throw new ValidationError(field, pattern.description)
      }
      return bytes
    },
    (bytes) => decodeUtf8(bytes, 'text'),
  )
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * A calendar date in years 1 to 9999. Arithmetic rather than Date.UTC, which
 * takes years 0 to 99 as 1900 to 1999.
 */
function isCalendarDate(iso: string): boolean {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number) as [number, number, number]
  if (y < 1 || m < 1 || m > 12 || d < 1) return false
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!)
}

const DATE = /^\d{4}-\d{2}-\d{2}$/
const DATE_OR_DATE_TIME_SHAPE =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?Z)?$/

/**
 * The chart's rule for a clinical record's `occurredOn` (a text column of at
 * most 24 bytes): a date, or a UTC date-time to the minute, second or
 * millisecond, on a real calendar day.
 */
export const DATE_OR_DATE_TIME: TextPattern = Object.freeze({
  test: (value: string) => DATE_OR_DATE_TIME_SHAPE.test(value) && isCalendarDate(value),
  description:
    'must be a date YYYY-MM-DD or a UTC date-time YYYY-MM-DDTHH:MM[:SS[.sss]]Z',
})

function isDate(value: string): boolean {
  return DATE.test(value) && isCalendarDate(value)
}

function date<N extends boolean = false>(
  options: ColumnOptions<N> = {},
): EncryptedColumn<string, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.date')
  return build<string, N>(
    'date',
    common,
    10,
    (value, field) => {
      if (typeof value !== 'string' || !isDate(value)) {
        throw new ValidationError(
          field,
          types.isDate(value)
            ? 'must be a date YYYY-MM-DD as a string (a Date object belongs in a dateTime column)'
            : 'must be a date YYYY-MM-DD',
        )
      }
      return Buffer.from(value, 'latin1')
    },
    (bytes) => {
      const value = ascii(bytes)
      if (!isDate(value)) throw notAnEncoding('date')
      return value
    },
  )
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function dateTime<N extends boolean = false>(
  options: ColumnOptions<N> = {},
): EncryptedColumn<Date, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.dateTime')
  return build<Date, N>(
    'dateTime',
    common,
    24,
    (value, field) => {
      if (!types.isDate(value)) throw new ValidationError(field, 'must be a Date')
      const time = (value as Date).getTime()
      if (Number.isNaN(time))
        throw new ValidationError(field, 'must be a valid Date (it is Invalid Date)')
      const year = (value as Date).getUTCFullYear()
      if (year < 1 || year > 9999) {
        throw new ValidationError(field, 'must be a Date in the years 1 to 9999 (UTC)')
      }
      return Buffer.from((value as Date).toISOString(), 'latin1')
    },
    (bytes) => {
      const iso = ascii(bytes)
      const value = new Date(iso)
      if (
        !ISO_DATE_TIME.test(iso) ||
        Number.isNaN(value.getTime()) ||
        value.toISOString() !== iso
      ) {
        throw notAnEncoding('dateTime')
      }
      return value
    },
  )
}

const INTEGER = /^(0|-?[1-9]\d{0,15})$/

function integer<N extends boolean = false>(
  options: IntegerOptions<N> = {},
): EncryptedColumn<number, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.integer')
  const check = integerRange(options, 'encrypted.integer')
  return build<number, N>(
    'integer',
    common,
    17,
    // String(-0) is '0'.
    (value, field) => Buffer.from(String(check(value, field)), 'latin1'),
    (bytes) => {
      const digits = ascii(bytes)
      const value = Number(digits)
      if (!INTEGER.test(digits) || !Number.isSafeInteger(value))
        throw notAnEncoding('integer')
      return value
    },
  )
}

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/
const NEGATIVE_ZERO = /^-0(\.0+)?$/

function decimal<N extends boolean = false>(
  options: DecimalOptions<N>,
): EncryptedColumn<string, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.decimal')
  const precision = wholeNumberOption(
    options.precision,
    'encrypted.decimal.precision',
    1,
    65,
  )
  const scale = wholeNumberOption(
    options.scale,
    'encrypted.decimal.scale',
    0,
    Math.min(30, precision),
  )
  const whole = precision - scale
  // Sign, integer digits (a lone 0 when there are none), point and fraction.
  const maxBytes = 1 + Math.max(whole, 1) + (scale > 0 ? 1 + scale : 0)
  const example = `"-${whole === 0 ? '0' : '12'.slice(0, whole)}${scale > 0 ? '.' + '50'.slice(0, scale) : ''}"`
  return build<string, N>(
    'decimal',
    common,
    maxBytes,
    (value, field) => {
      if (typeof value === 'number' || typeof value === 'bigint') {
        throw new ValidationError(
          field,
          `must be a string such as ${example}: a number is refused, as a binary float is not exact`,
        )
      }
      if (typeof value !== 'string') {
        throw new ValidationError(field, `must be a decimal string such as ${example}`)
      }
      if (value.length > maxBytes) {
        throw new ValidationError(
          field,
          `must fit DECIMAL(${precision},${scale}): at most ${whole} digits before the point and ${scale} after`,
        )
      }
      if (!DECIMAL.test(value)) {
        throw new ValidationError(
          field,
          `must be a decimal string such as ${example} (digits, an optional point and digits; ` +
            'no "+", exponent, spaces or leading zeros)',
        )
      }
      const [integerPart, fraction = ''] = value.replace('-', '').split('.') as [
        string,
        string?,
      ]
      if ((integerPart === '0' ? 0 : integerPart.length) > whole) {
        throw new ValidationError(
          field,
          `must have at most ${whole} digits before the point`,
        )
      }
      if (fraction.length > scale) {
        throw new ValidationError(
          field,
          scale === 0
            ? 'must be a whole number (scale 0)'
            : `must have at most ${scale} digits after the point`,
        )
      }
      if (NEGATIVE_ZERO.test(value))
        throw new ValidationError(field, 'must not be negative zero')
      return Buffer.from(value, 'latin1')
    },
    (bytes) => {
      const value = ascii(bytes)
      if (!DECIMAL.test(value)) throw notAnEncoding('decimal')
      return value
    },
  )
}

const TRUE = Buffer.from('1')
const FALSE = Buffer.from('0')

function boolean<N extends boolean = false>(
  options: ColumnOptions<N> = {},
): EncryptedColumn<boolean, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.boolean')
  return build<boolean, N>(
    'boolean',
    common,
    1,
    (value, field) => {
      if (typeof value !== 'boolean')
        throw new ValidationError(field, 'must be true or false')
      return Buffer.from(value ? TRUE : FALSE)
    },
    (bytes) => {
      if (bytes.equals(TRUE)) return true
      if (bytes.equals(FALSE)) return false
      throw notAnEncoding('boolean')
    },
  )
}

function json<T, N extends boolean = false>(
  options: JsonOptions<T, N>,
): EncryptedColumn<T, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.json')
  const maxBytes = maxBytesOption(options, 'encrypted.json')
  const check = options.check as unknown
  if (typeof check !== 'function') {
    throw new ValidationError(
      'encrypted.json.check',
      'must be a function (value) => boolean',
    )
  }
  return build<T, N>(
    'json',
    common,
    maxBytes,
    (value, field) => {
      const problem = plainJsonProblem(value)
      if (problem !== undefined)
        throw new ValidationError(field, `must be plain JSON; it ${problem}`)
      const bytes = Buffer.from(JSON.stringify(value), 'utf8')
      if (bytes.length > maxBytes) {
        throw new ValidationError(
          field,
          `must be at most ${maxBytes} bytes as JSON in UTF-8, got ${bytes.length}`,
        )
      }
      let matches = false
      try {
        // On the value as it reads back, so what the schema approved is what decode returns.
        matches = check(JSON.parse(bytes.toString('utf8'))) === true
      } catch {
        // Its message may quote the value.
      }
      if (!matches) throw new ValidationError(field, 'does not match its schema')
      return bytes
    },
    (bytes) => {
      const source = decodeUtf8(bytes, 'json')
      try {
        return JSON.parse(source) as T
      } catch {
        // JSON.parse's message quotes the text around the error.
        throw notAnEncoding('json')
      }
    },
  )
}

function bytes<N extends boolean = false>(
  options: BytesOptions<N>,
): EncryptedColumn<Buffer, NoInfer<N>> {
  const common = commonOptions(options, 'encrypted.bytes')
  const maxBytes = maxBytesOption(options, 'encrypted.bytes')
  return build<Buffer, N>(
    'bytes',
    common,
    maxBytes,
    (value, field) => {
      if (!types.isUint8Array(value)) {
        throw new ValidationError(field, 'must be a Buffer or Uint8Array')
      }
      if (value.length > maxBytes) {
        throw new ValidationError(
          field,
          `must be at most ${maxBytes} bytes, got ${value.length}`,
        )
      }
      return Buffer.from(value)
    },
    (stored) => Buffer.from(stored),
  )
}

/** The encrypted column factories, e.g. `encrypted.text({ maxBytes: 200 })`. */
export const encrypted = Object.freeze({
  text,
  date,
  dateTime,
  integer,
  decimal,
  boolean,
  json,
  bytes,
})
