import {
  coarseIndexValue,
  deriveIndexKey,
  exactIndexValue,
} from '../crypto/blind-index.js'
import { ValidationError } from '../errors/index.js'
import type { TableDeclaration } from './define-table.js'
import { applyNormalisers } from './normalisers.js'
import type { DeclaredIndex } from './search-indexes.js'

/** A table's index keys, by index name (derived once per vault). */
export type IndexKeys = ReadonlyMap<string, Buffer>

export function deriveTableIndexKeys(
  searchKey: Buffer,
  decl: TableDeclaration,
): IndexKeys {
  return new Map(
    decl.indexes.map((index) => [
      index.name,
      deriveIndexKey(searchKey, {
        table: decl.name,
        index: index.name,
        kind: index.kind,
        bits: index.bits,
        fields: index.fields.map((f) => ({
          column: f.column,
          steps: f.steps.map((s) => s.name),
        })),
      }),
    ]),
  )
}

/** The text an index normalises: a text or a date as it is, an integer in decimal. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  return undefined
}

/** The normalised parts of `values` for `index`; undefined if one is absent or normalises to nothing. */
export function partsOf(
  index: DeclaredIndex,
  values: Readonly<Record<string, unknown>>,
): string[] | undefined {
  const parts: string[] = []
  for (const field of index.fields) {
    const text = textOf(values[field.name])
    if (text === undefined) return undefined
    const part = applyNormalisers(text, field.steps)
    if (part === '') return undefined
    parts.push(part)
  }
  return parts
}

function valueOf(index: DeclaredIndex, key: Buffer, parts: string[]): Buffer | number {
  return index.kind === 'exact'
    ? exactIndexValue(key, parts)
    : coarseIndexValue(key, parts, index.bits)
}

function keyOf(keys: IndexKeys, index: DeclaredIndex): Buffer {
  const key = keys.get(index.name)
  if (!key) throw new Error(`no key for index ${index.name}`)
  return key
}

/**
 * The index columns of a row written with `values` (typed field values): for
 * each index in `indexes`, its value, or NULL when a field is NULL or normalises
 * to nothing (such a row is not found by that index).
 */
export function indexColumnValues(
  indexes: readonly DeclaredIndex[],
  keys: IndexKeys,
  values: Readonly<Record<string, unknown>>,
): Record<string, Buffer | number | null> {
  const columns: Record<string, Buffer | number | null> = {}
  for (const index of indexes) {
    const parts = partsOf(index, values)
    columns[index.column] = parts ? valueOf(index, keyOf(keys, index), parts) : null
  }
  return columns
}

/**
 * The index value a search looks up: every field of the index given, each
 * normalising to something; otherwise a ValidationError naming the field (never
 * its value).
 */
export function searchValueOf(
  index: DeclaredIndex,
  key: Buffer,
  query: Readonly<Record<string, unknown>>,
): Buffer | number {
  const parts: string[] = []
  for (const field of index.fields) {
    const text = textOf(query[field.name])
    if (text === undefined) {
      throw new ValidationError(
        field.name,
        `is needed by index ${index.name} (a ${field.type === 'integer' ? 'number' : 'string'})`,
      )
    }
    const part = applyNormalisers(text, field.steps)
    if (part === '') {
      throw new ValidationError(
        field.name,
        `is empty once normalised for index ${index.name} (${field.steps.map((s) => s.name).join(', ') || 'as given'})`,
      )
    }
    parts.push(part)
  }
  return valueOf(index, key, parts)
}
