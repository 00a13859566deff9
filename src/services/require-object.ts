import { ValidationError } from '../errors/index.js'

/** Throws unless `value` is a plain object (the shape of every input record). */
export function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(field, 'must be an object')
  }
  return value as Record<string, unknown>
}
