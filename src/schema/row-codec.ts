import { rowIdToString } from '../db/row-id.js'
import { IntegrityError, ValidationError } from '../errors/index.js'
import type { DeclaredField, TableDeclaration } from './define-table.js'
import type { EncryptedColumn, PlainColumn } from './column.js'

/**
 * A caller's row split for SQL, after every check: plain columns as the driver
 * binds them, encrypted columns as the bytes to seal. `null` clears a nullable
 * field; a field left out is not written.
 */
export interface EncodedRow {
  readonly plain: Record<string, unknown>
  readonly encrypted: Record<string, Buffer | null>
}

function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(field, 'must be an object')
  }
  return value as Record<string, unknown>
}

/**
 * Checks and encodes `input` against the declaration. For an insert every
 * non-nullable field is required; for an update (`partial`) any subset may be
 * given, and only nullable fields may be set to null. Unknown fields are refused
 * (a typo would otherwise drop data silently). Messages name fields, never values.
 */
export function encodeRow(
  decl: TableDeclaration,
  input: unknown,
  partial: boolean,
  what = partial ? 'changes' : 'row',
): EncodedRow {
  const values = requireObject(input, what)
  const known = new Set([...decl.encryptedFields, ...decl.plainFields].map((f) => f.name))
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new ValidationError(name, 'is not a known field')
  }
  const plain: Record<string, unknown> = {}
  const encrypted: Record<string, Buffer | null> = {}
  const each = <C extends EncryptedColumn | PlainColumn>(
    field: DeclaredField<C>,
    encode: (value: unknown) => unknown,
    out: Record<string, unknown>,
  ) => {
    // Own properties only: a field named like an Object.prototype member
    // (`constructor`) must not read the prototype's value when left out.
    const value = Object.hasOwn(values, field.name) ? values[field.name] : undefined
    if (value === undefined) {
      if (partial || field.def.nullable) return
      throw new ValidationError(field.name, 'is required')
    }
    if (value === null) {
      if (!field.def.nullable) throw new ValidationError(field.name, 'is required')
      out[field.column] = null
      return
    }
    out[field.column] = encode(value)
  }
  for (const field of decl.encryptedFields) {
    each(field, (v) => field.def.encode(v, field.name), encrypted)
    // While the field is converted from a plaintext column, a write of it
    // clears that column in the same statement: no stale plaintext stays behind.
    const source = convertingSource(decl, field.name)
    if (source !== undefined && Object.hasOwn(encrypted, field.column)) {
      plain[source] = null
    }
  }
  for (const field of decl.plainFields) {
    each(field, (v) => field.def.toDriver(v, field.name), plain)
  }
  if (partial && Object.keys(plain).length + Object.keys(encrypted).length === 0) {
    throw new ValidationError(what, 'must change at least one field')
  }
  return { plain, encrypted }
}

/**
 * The plaintext column a field is converted from, if any. Own properties only:
 * a field named `constructor` or `toString` (valid camelCase names) must not
 * find Object.prototype's member and write a column named after a function.
 */
function convertingSource(decl: TableDeclaration, name: string): string | undefined {
  return Object.hasOwn(decl.convertingFrom, name) ? decl.convertingFrom[name] : undefined
}

/** A row as read: library columns, plain columns, opened envelopes (bytes or null). */
export type OpenedRow = Record<string, unknown> & {
  id: Buffer
  created_at: Date
  updated_at: Date
}

/**
 * The row in the declared types. A NULL envelope of a non-nullable field is not
 * an absent value but a changed row (someone wrote NULL over it): an
 * IntegrityError, as a failed tag is. While a field is being converted from a
 * plaintext column, a NULL envelope reads that column (dual read).
 */
export function decodeRow(
  decl: TableDeclaration,
  row: OpenedRow,
  fromPlaintext: (def: EncryptedColumn, raw: unknown) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: rowIdToString(row.id),
    patientId: rowIdToString(row[decl.patientColumn] as Buffer),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
  for (const field of decl.encryptedFields) {
    const bytes = row[field.column] as Buffer | null
    if (bytes !== null) {
      out[field.name] = field.def.decode(bytes)
      continue
    }
    const source = convertingSource(decl, field.name)
    const raw = source === undefined ? null : row[source]
    if (raw !== null && raw !== undefined) {
      out[field.name] = fromPlaintext(field.def, raw)
    } else if (field.def.nullable) {
      out[field.name] = null
    } else {
      throw new IntegrityError(
        `${decl.name}.${field.column} of row ${rowIdToString(row.id)} is NULL but required`,
      )
    }
  }
  for (const field of decl.plainFields) {
    const raw = row[field.column]
    out[field.name] = raw === null || raw === undefined ? null : field.def.fromDriver(raw)
  }
  return out
}
