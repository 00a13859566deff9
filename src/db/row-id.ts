import { parse, v7, validate } from 'uuid'
import { ValidationError } from '../errors/index.js'

/**
 * Row ids are UUIDv7 (RFC 9562 §5.7) made by the application, stored as BINARY(16):
 * the envelope AAD can name a row before it exists, and the time
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

/**
 * The canonical form of a stored id: lower-case hex in 8-4-4-4-12 groups. It does
 * not check the version and variant bits (uuid's stringify would throw on them):
 * a report or an integrity error must be able to name whatever 16 bytes a row
 * holds, including a row someone tampered with.
 */
export function rowIdToString(id: Buffer): string {
  if (!Buffer.isBuffer(id) || id.length !== 16) {
    throw new TypeError('a row id is 16 bytes')
  }
  const hex = id.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
