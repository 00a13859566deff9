import { parse, stringify, v7, validate } from 'uuid'
import { ValidationError } from '../errors/index.js'

/**
 * Row ids are UUIDv7 (RFC 9562 §5.7) made by the application, stored as BINARY(16):
 * the envelope AAD can name a row before it exists (DESIGN.md §3), and the time
 * prefix keeps InnoDB inserts near the end of the primary key.
 */
export function newRowId(): Buffer {
  return Buffer.from(parse(v7()))
}

/** Parses a UUID given by a caller; anything else is a ValidationError naming `field`. */
export function rowIdFromString(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || !validate(value)) {
    throw new ValidationError(field, 'must be a UUID string')
  }
  return Buffer.from(parse(value))
}

export function rowIdToString(id: Buffer): string {
  return stringify(id)
}
