import { ValidationError } from '../errors/index.js'
import type { EncryptedColumn } from './column.js'

/**
 * A value of a plaintext column (as mysql2 returns it) in the input type of an
 * encrypted field, for a conversion and for the dual read while it runs: VARCHAR
 * and TEXT come as strings, BLOBs as Buffers (text from UTF-8), DATE and
 * DATETIME as Dates (the pool's time zone is UTC), DECIMAL and BIGINT as
 * strings (supportBigNumbers), TINYINT as numbers. Anything else is passed on
 * and the field's own check decides.
 */
export function plaintextInput(
  def: EncryptedColumn,
  raw: unknown,
  field: string,
): unknown {
  const asText = () => (Buffer.isBuffer(raw) ? raw.toString('utf8') : raw)
  switch (def.type) {
    case 'text':
    case 'decimal':
      return typeof raw === 'number' ? String(raw) : asText()
    case 'date':
      return raw instanceof Date ? raw.toISOString().slice(0, 10) : asText()
    case 'dateTime':
      return typeof raw === 'string' ? new Date(raw) : raw
    case 'integer':
      return typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw
    case 'boolean':
      return raw === 0 || raw === 1 ? raw === 1 : raw
    case 'json': {
      const text = asText()
      if (typeof text !== 'string') return text
      try {
        return JSON.parse(text)
      } catch {
        // V8's SyntaxError quotes the text it failed on: PHI, so not passed on.
        throw new ValidationError(field, 'holds text that is not valid JSON')
      }
    }
    case 'bytes':
      return raw
  }
}

/** The value of a plaintext column in the field's declared type, checked as a write would be. */
export function plaintextValue(
  def: EncryptedColumn,
  raw: unknown,
  field: string,
): unknown {
  return def.decode(def.encode(plaintextInput(def, raw, field), field))
}
