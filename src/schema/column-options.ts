import { IntegrityError, ValidationError } from '../errors/index.js'

/**
 * What every column factory takes, and the checks of a factory's own options.
 * Those run when the declaration is evaluated (start-up), so a malformed
 * declaration fails before any row is read or written.
 */

export interface ColumnOptions<N extends boolean> {
  /**
   * Whether the field may be `null` (and left out of an insert). A literal
   * `true` makes the row type `T | null`; leaving it out means `false`.
   */
  readonly nullable?: N
  /** SQL column name, when not the one derived from the field name. */
  readonly column?: string
}

/** MEDIUMBLOB holds 16 MiB - 1; 1 KiB of it is left for the envelope around the value. */
export const MAX_ENCRYPTED_BYTES = 16 * 1024 * 1024 - 1024

/** Checks `options` is an object and reads the options every column has. */
export function commonOptions(
  options: unknown,
  factory: string,
): { nullable: boolean; column: string | undefined } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ValidationError(factory, 'takes an options object')
  }
  const { nullable, column } = options as { nullable?: unknown; column?: unknown }
  if (nullable !== undefined && typeof nullable !== 'boolean') {
    throw new ValidationError(`${factory}.nullable`, 'must be true or false')
  }
  if (column !== undefined && typeof column !== 'string') {
    throw new ValidationError(`${factory}.column`, 'must be a column name')
  }
  return { nullable: nullable ?? false, column }
}

/** A whole-number option from `min` to `max` (declaration constants may be echoed). */
export function wholeNumberOption(
  value: unknown,
  name: string,
  min: number,
  max: number,
): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < min ||
    value > max
  ) {
    throw new ValidationError(name, `must be a whole number from ${min} to ${max}`)
  }
  return value
}

/**
 * Opened bytes that `encode` cannot have written: the MAC held, so this is a
 * bug or a value put there by other means, never something to guess at. The
 * message names the type only (the bytes are PHI).
 */
export function notAnEncoding(type: string): IntegrityError {
  return new IntegrityError(
    `an opened ${type} value is not in the format its column writes`,
  )
}

/**
 * The `min`/`max` options of an integer column, checked at declaration time, and
 * the check of a caller's value against them: one rule for encrypted and plain
 * integers (safe integers only: Number cannot hold more exactly).
 */
export function integerRange(
  options: { readonly min?: number; readonly max?: number },
  where: string,
): (value: unknown, field: string) => number {
  const limit = (name: 'min' | 'max'): number | undefined =>
    options[name] === undefined
      ? undefined
      : wholeNumberOption(
          options[name],
          `${where}.${name}`,
          Number.MIN_SAFE_INTEGER,
          Number.MAX_SAFE_INTEGER,
        )
  const min = limit('min')
  const max = limit('max')
  if (min !== undefined && max !== undefined && min > max) {
    throw new ValidationError(where, 'has min greater than max')
  }
  return (value, field) => {
    if (typeof value !== 'number') throw new ValidationError(field, 'must be a number')
    if (!Number.isInteger(value))
      throw new ValidationError(field, 'must be a whole number')
    if (!Number.isSafeInteger(value)) {
      throw new ValidationError(
        field,
        'must be a safe integer (at most 2^53 - 1 either side of 0)',
      )
    }
    if (min !== undefined && value < min)
      throw new ValidationError(field, `must be at least ${min}`)
    if (max !== undefined && value > max)
      throw new ValidationError(field, `must be at most ${max}`)
    return value
  }
}
