import { isWellFormed } from '../crypto/checks.js'
import { ValidationError } from '../errors/index.js'

/** Throws unless `value` is a plain object (the shape of every input record). */
export function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(field, 'must be an object')
  }
  return value as Record<string, unknown>
}

/**
 * An input record whose own fields are all among `known`, copied into an object
 * without a prototype. Checked by own keys and read from the copy, so a key
 * named like an Object.prototype member (`constructor`, `toString`, a JSON
 * `"__proto__"`) is refused like any unknown one, and a field left out reads as
 * undefined, never as the prototype's member (`in` and a plain lookup walk the
 * prototype chain, which let `{ constructor: 'x' }` through). `T` only names
 * the fields: the caller still checks each value.
 */
export function requireFields<T extends object = Readonly<Record<string, unknown>>>(
  value: unknown,
  field: string,
  known: readonly string[],
  rule = 'is not a known field',
): T {
  const input = requireObject(value, field)
  const allowed = new Set(known)
  const fields = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(input)) {
    if (!allowed.has(key)) throw new ValidationError(key, rule)
    fields[key] = input[key]
  }
  return fields as T
}

/**
 * A text value that is well-formed Unicode: a lone UTF-16 surrogate cannot be
 * encoded in UTF-8, and the driver would store it as U+FFFD, so the value read
 * back would differ from the one written.
 */
export function requireWellFormed(value: string, field: string): string {
  if (!isWellFormed(value)) {
    throw new ValidationError(field, 'must be valid Unicode (it holds a lone surrogate)')
  }
  return value
}
