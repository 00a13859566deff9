import { MAX_COARSE_BITS } from '../crypto/blind-index.js'
import { ValidationError } from '../errors/index.js'
import type { EncryptedColumn } from './column.js'
import { planCoarseIndex, type IndexEstimate } from './index-planner.js'
import type { Normaliser } from './normalisers.js'

/**
 * Search indexes a table declares over its encrypted fields (docs/search.md):
 *
 * - `exact`: 128 bits of HMAC, a match is the value (up to the normalisers);
 *   `unique` adds a UNIQUE key, for data that is unique (a national id).
 * - `coarse`: a few bits, so that several values share each index value on
 *   purpose; a match is a candidate, checked once the row is opened. The planner
 *   (index-planner.ts) refuses a budget that would identify values or find
 *   nothing useful.
 *
 * @example
 * indexes: {
 *   byNationalId: searchIndex.exact({ fields: { nationalId: [normalise.lettersAndDigits, normalise.casefold] }, unique: true }),
 *   byBirthAndInitial: searchIndex.coarse({
 *     fields: { dateOfBirth: [], fullName: [normalise.casefold, normalise.lastWord, normalise.prefix(1)] },
 *     bits: 16,
 *     estimate: { distinct: 36_525 * 26 },
 *   }),
 * }
 */

/** Field name → the normalisers its value goes through, in order. */
export type IndexFields = Readonly<Record<string, readonly Normaliser[]>>

export interface ExactIndexSpec {
  readonly kind: 'exact'
  readonly fields: IndexFields
  readonly unique?: boolean
}

export interface CoarseIndexSpec {
  readonly kind: 'coarse'
  readonly fields: IndexFields
  /** Bits kept of the HMAC, 1 to 32. */
  readonly bits: number
  /** What the planner checks the bits against. */
  readonly estimate: IndexEstimate
}

export type IndexSpec = ExactIndexSpec | CoarseIndexSpec

export const searchIndex = Object.freeze({
  exact: (spec: Omit<ExactIndexSpec, 'kind'>): ExactIndexSpec => ({
    ...spec,
    kind: 'exact',
  }),
  coarse: (spec: Omit<CoarseIndexSpec, 'kind'>): CoarseIndexSpec => ({
    ...spec,
    kind: 'coarse',
  }),
})

export interface IndexedField {
  readonly name: string
  /** The field's envelope column. */
  readonly column: string
  readonly type: EncryptedColumn['type']
  readonly steps: readonly Normaliser[]
}

/** An index as a declaration holds it, checked. */
export interface DeclaredIndex {
  readonly name: string
  readonly kind: 'exact' | 'coarse'
  /** The index column: BINARY(16) for exact, INT UNSIGNED for coarse. */
  readonly column: string
  readonly unique: boolean
  /** 128 for exact. */
  readonly bits: number
  readonly fields: readonly IndexedField[]
}

const INDEX_NAME = /^[a-z][A-Za-z0-9]{0,55}$/
/** MySQL's longest column name. */
const MAX_COLUMN_CHARS = 64
/** Types whose value has one text form to normalise. */
const INDEXABLE = new Set(['text', 'date', 'integer'])

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

function isNormaliser(value: unknown): value is Normaliser {
  const n = value as Partial<Normaliser> | null
  return (
    typeof n === 'object' &&
    n !== null &&
    typeof n.name === 'string' &&
    typeof n.apply === 'function'
  )
}

/** Checks each index against the table's encrypted fields; a bad one is a ValidationError naming it. */
export function resolveIndexes(
  specs: Readonly<Record<string, IndexSpec>> | undefined,
  encryptedFields: readonly {
    readonly name: string
    readonly column: string
    readonly def: EncryptedColumn
  }[],
  takenColumns: ReadonlySet<string>,
  convertingFrom: Readonly<Record<string, string>> = {},
): DeclaredIndex[] {
  if (specs === undefined) return []
  if (typeof specs !== 'object' || specs === null || Array.isArray(specs)) {
    throw new ValidationError('indexes', 'must be an object of search indexes')
  }
  return Object.entries(specs).map(([name, spec]) => {
    const at = `indexes.${name}`
    if (!INDEX_NAME.test(name)) {
      throw new ValidationError(
        at,
        'must be a camelCase index name of at most 56 characters',
      )
    }
    const s = spec as unknown as
      | (Partial<Omit<ExactIndexSpec, 'kind'> & Omit<CoarseIndexSpec, 'kind'>> & {
          kind?: unknown
        })
      | null
    if (
      typeof s !== 'object' ||
      s === null ||
      (s.kind !== 'exact' && s.kind !== 'coarse')
    ) {
      throw new ValidationError(
        at,
        'must be made by searchIndex.exact() or searchIndex.coarse()',
      )
    }
    if (typeof s.fields !== 'object' || s.fields === null || Array.isArray(s.fields)) {
      throw new ValidationError(
        `${at}.fields`,
        'must be an object: field name → normalisers',
      )
    }
    const fields = Object.entries(s.fields).map(([fieldName, steps]): IndexedField => {
      const field = encryptedFields.find((f) => f.name === fieldName)
      if (!field) {
        throw new ValidationError(
          `${at}.fields.${fieldName}`,
          'is not an encrypted field of the table',
        )
      }
      // A converting field's rows are filled by the conversion job, which
      // writes envelopes only: its index would miss them.
      if (convertingFrom[fieldName] !== undefined) {
        throw new ValidationError(
          `${at}.fields.${fieldName}`,
          'is still converting from a plaintext column; declare the index once the conversion is done',
        )
      }
      if (!INDEXABLE.has(field.def.type)) {
        throw new ValidationError(
          `${at}.fields.${fieldName}`,
          `is a ${field.def.type} field; only text, date and integer fields can be indexed`,
        )
      }
      if (!Array.isArray(steps) || !steps.every(isNormaliser)) {
        throw new ValidationError(
          `${at}.fields.${fieldName}`,
          'must be a list of normalisers (normalise.casefold, …), [] for none',
        )
      }
      return {
        name: field.name,
        column: field.column,
        type: field.def.type,
        steps: [...steps],
      }
    })
    if (fields.length === 0) {
      throw new ValidationError(`${at}.fields`, 'must name at least one field')
    }
    const column = `bidx_${snake(name)}`
    // Each capital adds an underscore: a 56-character name can give 116.
    if (column.length > MAX_COLUMN_CHARS) {
      throw new ValidationError(
        at,
        `needs column ${column}, longer than ${MAX_COLUMN_CHARS} characters (MySQL's limit); choose a shorter name`,
      )
    }
    if (takenColumns.has(column)) {
      throw new ValidationError(
        at,
        `needs column ${column}, which the table already uses`,
      )
    }
    if (s.kind === 'exact') {
      if (s.unique !== undefined && typeof s.unique !== 'boolean') {
        throw new ValidationError(`${at}.unique`, 'must be a boolean')
      }
      return Object.freeze({
        name,
        kind: 'exact',
        column,
        unique: s.unique === true,
        bits: 128,
        fields,
      })
    }
    if (s.unique !== undefined) {
      throw new ValidationError(
        `${at}.unique`,
        'is only for an exact index: the values of a coarse index collide on purpose',
      )
    }
    if (!Number.isInteger(s.bits) || s.bits! < 1 || s.bits! > MAX_COARSE_BITS) {
      throw new ValidationError(
        `${at}.bits`,
        `must be an integer from 1 to ${MAX_COARSE_BITS}`,
      )
    }
    planCoarseIndex(at, fields.length, s.bits!, s.estimate)
    return Object.freeze({
      name,
      kind: 'coarse',
      column,
      unique: false,
      bits: s.bits!,
      fields,
    })
  })
}
