import { types } from 'node:util'
import { isWellFormed } from '../crypto/checks.js'
import { rowIdFromString, rowIdToString } from '../db/row-id.js'
import { IntegrityError, ValidationError } from '../errors/index.js'
import type { PlainColumn, PlainType } from './column.js'
import {
  type ColumnOptions,
  commonOptions,
  integerRange,
  wholeNumberOption,
} from './column-options.js'

/**
 * The plaintext column types: what an application keeps in clear to filter
 * and order on. Their SQL types (the migration helper creates them):
 *
 *   text      VARCHAR(maxLength), utf8mb4; maxLength in characters (code points)
 *   integer   BIGINT; JavaScript safe integers only (-0 is bound as 0)
 *   boolean   TINYINT(1), bound as true/false, read back from 0/1
 *   dateTime  DATETIME(3), UTC to the millisecond, years 1000 to 9999
 *   rowId     BINARY(16), a UUID read back in lower case
 *   enum      VARCHAR(64), one of the declared values
 *
 * `toDriver` checks a caller's value (a ValidationError naming the field and
 * the rule, never the value); `fromDriver` maps what mysql2 returns under the
 * settings of db/connection.ts, and a stored value the declaration does not
 * allow (written by other means) is an IntegrityError rather than a guess.
 *
 * @example
 * plain.enum(['active', 'stopped'])          // 'active' | 'stopped'
 * plain.rowId({ nullable: true })            // string | null
 */

export interface PlainTextOptions<N extends boolean> extends ColumnOptions<N> {
  /** Largest length in characters (code points), 1 to 16383 (a utf8mb4 VARCHAR). */
  readonly maxLength: number
}

export interface PlainIntegerOptions<N extends boolean> extends ColumnOptions<N> {
  readonly min?: number
  readonly max?: number
}

/** 65,535 bytes of VARCHAR at up to 4 bytes a character in utf8mb4. */
const MAX_VARCHAR_CHARACTERS = 16383
const MAX_ENUM_CHARACTERS = 64

/**
 * Factories return a column of `NoInfer<N>`: written inside defineTable({ plain: {...} }),
 * TypeScript would otherwise infer N from the expected type (a column of any
 * nullability), `boolean`, and every field would read back as `T | null`.
 */
function build<T, N extends boolean>(
  type: PlainType,
  { nullable, column }: ReturnType<typeof commonOptions>,
  toDriver: (value: unknown, field: string) => string | number | boolean | Date | Buffer,
  fromDriver: (value: unknown) => T,
  extra: { maxLength?: number; values?: readonly string[] } = {},
): PlainColumn<T, NoInfer<N>> {
  return Object.freeze({
    kind: 'plain' as const,
    type,
    nullable: nullable as N,
    column,
    ...extra,
    toDriver,
    fromDriver,
  })
}

function notAllowed(type: PlainType): IntegrityError {
  return new IntegrityError(
    `a plain ${type} column holds a value its declaration does not allow`,
  )
}

/** Code points, counted without building an array (a VARCHAR's length is in characters). */
function characters(value: string): number {
  let count = 0
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i)
    // A high surrogate starts a pair (the string is well-formed).
    if (unit >= 0xd800 && unit <= 0xdbff) i++
    count++
  }
  return count
}

function text<N extends boolean = false>(
  options: PlainTextOptions<N>,
): PlainColumn<string, NoInfer<N>> {
  const common = commonOptions(options, 'plain.text')
  const maxLength = wholeNumberOption(
    options.maxLength,
    'plain.text.maxLength',
    1,
    MAX_VARCHAR_CHARACTERS,
  )
  return build<string, N>(
    'text',
    common,
    (value, field) => {
      if (typeof value !== 'string') throw new ValidationError(field, 'must be a string')
      if (!isWellFormed(value)) {
        throw new ValidationError(
          field,
          'must be valid Unicode (it holds a lone surrogate)',
        )
      }
      const length = value.length <= maxLength ? value.length : characters(value)
      if (length > maxLength) {
        throw new ValidationError(
          field,
          `must be at most ${maxLength} characters, got ${length}`,
        )
      }
      return value
    },
    (value) => {
      if (typeof value !== 'string') throw notAllowed('text')
      return value
    },
    { maxLength },
  )
}

const INTEGER = /^(0|-?[1-9]\d{0,15})$/

function integer<N extends boolean = false>(
  options: PlainIntegerOptions<N> = {},
): PlainColumn<number, NoInfer<N>> {
  const common = commonOptions(options, 'plain.integer')
  const check = integerRange(options, 'plain.integer')
  return build<number, N>(
    'integer',
    common,
    (value, field) => {
      const n = check(value, field)
      return n === 0 ? 0 : n
    },
    (value) => {
      // supportBigNumbers + bigNumberStrings (db/connection.ts): BIGINT arrives as a string.
      const n =
        typeof value === 'string' && INTEGER.test(value)
          ? Number(value)
          : typeof value === 'bigint'
            ? Number(value)
            : value
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw notAllowed('integer')
      if (typeof value === 'bigint' && BigInt(n) !== value) throw notAllowed('integer')
      return n === 0 ? 0 : n
    },
  )
}

function boolean<N extends boolean = false>(
  options: ColumnOptions<N> = {},
): PlainColumn<boolean, NoInfer<N>> {
  const common = commonOptions(options, 'plain.boolean')
  return build<boolean, N>(
    'boolean',
    common,
    (value, field) => {
      if (typeof value !== 'boolean')
        throw new ValidationError(field, 'must be true or false')
      return value
    },
    (value) => {
      if (value === 1 || value === true) return true
      if (value === 0 || value === false) return false
      throw notAllowed('boolean')
    },
  )
}

/** 'YYYY-MM-DD HH:MM:SS[.fff]', what mysql2 gives for a DATETIME under dateStrings. */
const DATETIME_STRING = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/

/**
 * MySQL's supported DATETIME range. Below it mysql2 3.24 does not read back
 * what was written: a DATETIME in the year 0050 arrives as 1950 (measured on
 * MySQL 9.7 and MariaDB 11.8, prepared and text protocol alike).
 */
function inDateTimeRange(value: Date): boolean {
  const year = value.getUTCFullYear()
  return year >= 1000 && year <= 9999
}

function dateTime<N extends boolean = false>(
  options: ColumnOptions<N> = {},
): PlainColumn<Date, NoInfer<N>> {
  const common = commonOptions(options, 'plain.dateTime')
  return build<Date, N>(
    'dateTime',
    common,
    (value, field) => {
      if (!types.isDate(value)) throw new ValidationError(field, 'must be a Date')
      const time = (value as Date).getTime()
      if (Number.isNaN(time)) {
        throw new ValidationError(field, 'must be a valid Date (it is Invalid Date)')
      }
      if (!inDateTimeRange(value as Date)) {
        throw new ValidationError(field, 'must be a Date in the years 1000 to 9999 (UTC)')
      }
      // A copy: the caller may change theirs before the statement runs.
      return new Date(time)
    },
    (value) => {
      // timezone 'Z' (db/connection.ts) and the session's time_zone '+00:00': UTC both ways.
      const date =
        typeof value === 'string' && DATETIME_STRING.test(value)
          ? new Date(`${value.replace(' ', 'T').slice(0, 23)}Z`)
          : types.isDate(value)
            ? new Date((value as Date).getTime())
            : undefined
      if (date === undefined || Number.isNaN(date.getTime())) throw notAllowed('dateTime')
      return date
    },
  )
}

function rowId<N extends boolean = false>(
  options: ColumnOptions<N> = {},
): PlainColumn<string, NoInfer<N>> {
  const common = commonOptions(options, 'plain.rowId')
  return build<string, N>(
    'rowId',
    common,
    (value, field) => rowIdFromString(value, field),
    (value) => {
      if (!Buffer.isBuffer(value) || value.length !== 16) throw notAllowed('rowId')
      return rowIdToString(value)
    },
  )
}

function enumOf<
  const V extends readonly [string, ...string[]],
  N extends boolean = false,
>(values: V, options: ColumnOptions<N> = {}): PlainColumn<V[number], NoInfer<N>> {
  const common = commonOptions(options, 'plain.enum')
  if (!Array.isArray(values) || values.length === 0) {
    throw new ValidationError('plain.enum', 'needs a non-empty array of values')
  }
  for (const value of values as readonly unknown[]) {
    if (
      typeof value !== 'string' ||
      !isWellFormed(value) ||
      value === '' ||
      characters(value) > MAX_ENUM_CHARACTERS
    ) {
      throw new ValidationError(
        'plain.enum',
        `values must be strings of 1 to ${MAX_ENUM_CHARACTERS} characters`,
      )
    }
  }
  if (new Set(values).size !== values.length) {
    throw new ValidationError('plain.enum', 'has a value listed twice')
  }
  const allowed: readonly string[] = Object.freeze([...values])
  const isAllowed = (value: unknown): value is V[number] =>
    typeof value === 'string' && allowed.includes(value)
  return build<V[number], N>(
    'enum',
    common,
    (value, field) => {
      if (!isAllowed(value)) {
        throw new ValidationError(field, `must be one of ${allowed.join(', ')}`)
      }
      return value
    },
    (value) => {
      if (!isAllowed(value)) throw notAllowed('enum')
      return value
    },
    { values: allowed },
  )
}

/** The plaintext column factories, e.g. `plain.enum(['active', 'stopped'])`. */
export const plain = Object.freeze({
  text,
  integer,
  boolean,
  dateTime,
  rowId,
  enum: enumOf,
})
