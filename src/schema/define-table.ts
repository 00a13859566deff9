import { ValidationError } from '../errors/index.js'
import type { AnyColumn, EncryptedColumn, PlainColumn, ValueOf } from './column.js'
import { resolveIndexes, type DeclaredIndex, type IndexSpec } from './search-indexes.js'

/**
 * A table an application declares once: the repository, the migration helper,
 * rotation and the doctor all read it. Every declared table has, besides its
 * fields, the columns the library owns:
 *
 *   id             BINARY(16)   UUIDv7 made in Node, ends every envelope's AAD
 *   <patient>      BINARY(16)   the patient the row belongs to (`patient_id`)
 *   created_at     DATETIME(3)
 *   updated_at     DATETIME(3)
 *
 * @example
 * const medications = defineTable({
 *   name: 'medications',
 *   encrypted: { drug: encrypted.text({ maxBytes: 200 }), dose: encrypted.decimal({ precision: 8, scale: 3 }) },
 *   plain: { status: plain.enum(['active', 'stopped']) },
 * })
 */
export interface TableSpec<
  E extends Record<string, EncryptedColumn>,
  P extends Record<string, PlainColumn>,
> {
  /** SQL table name: lower-case letters, digits and `_`. */
  readonly name: string
  /** Column naming the patient (BINARY(16)); `patient_id` by default. */
  readonly patientColumn?: string
  readonly encrypted: E
  readonly plain?: P
  /**
   * While a plaintext column is being converted into an encrypted field
   * (`convertPlaintextColumn`): field → the plaintext column. A row whose
   * envelope is still NULL reads that column instead (dual read).
   */
  readonly convertingFrom?: { readonly [K in keyof E]?: string }
  /**
   * Search indexes over encrypted fields (search-indexes.ts, docs/search.md):
   * each adds a column `bidx_<name>` written with the row.
   */
  readonly indexes?: { readonly [name: string]: IndexSpec }
}

/** Audit actions a table's repository records (the chart keeps its own names). */
export interface TableAuditActions {
  readonly create: string
  readonly read: string
  readonly list: string
  readonly update: string
  readonly delete: string
  /** Opening rows the application selected itself. */
  readonly open: string
}

export const ROW_AUDIT_ACTIONS: TableAuditActions = {
  create: 'row.create',
  read: 'row.read',
  list: 'row.list',
  update: 'row.update',
  delete: 'row.delete',
  open: 'row.open',
}

export interface DeclaredField<C extends AnyColumn = AnyColumn> {
  /** The name in TypeScript (camelCase). */
  readonly name: string
  /** The SQL column. */
  readonly column: string
  readonly def: C
}

export interface TableDeclaration<
  E extends Record<string, EncryptedColumn> = Record<string, EncryptedColumn>,
  P extends Record<string, PlainColumn> = Record<string, PlainColumn>,
> {
  readonly name: string
  readonly patientColumn: string
  readonly encrypted: E
  readonly plain: P
  readonly encryptedFields: readonly DeclaredField<EncryptedColumn>[]
  readonly plainFields: readonly DeclaredField<PlainColumn>[]
  /** Encrypted field name → plaintext column read while its conversion runs. */
  readonly convertingFrom: Readonly<Record<string, string>>
  readonly auditActions: TableAuditActions
  readonly indexes: readonly DeclaredIndex[]
}

type Simplify<T> = { [K in keyof T]: T[K] } & {}
type RequiredKeys<C> = {
  [K in keyof C]: C[K] extends { readonly nullable: infer N }
    ? true extends N
      ? never
      : K
    : K
}[keyof C]
type InputOf<C> = { [K in RequiredKeys<C>]: ValueOf<C[K]> } & {
  [K in Exclude<keyof C, RequiredKeys<C>>]?: ValueOf<C[K]>
}

/** A row as the repository returns it. */
export type RowOf<D> =
  D extends TableDeclaration<infer E, infer P>
    ? Simplify<
        { id: string; patientId: string; createdAt: Date; updatedAt: Date } & {
          [K in keyof E]: ValueOf<E[K]>
        } & { [K in keyof P]: ValueOf<P[K]> }
      >
    : never

/** What `insert` takes: every non-nullable field; nullable ones may be left out. */
export type NewRowOf<D> =
  D extends TableDeclaration<infer E, infer P> ? Simplify<InputOf<E> & InputOf<P>> : never

/** What `update` takes: any fields; only nullable ones may be set to `null`. */
export type ChangesOf<D> = Partial<NewRowOf<D>>

/** The value type of plain field `K`. */
export type PlainValueOf<D, K extends string> =
  D extends TableDeclaration<Record<string, EncryptedColumn>, infer P>
    ? K extends keyof P
      ? ValueOf<P[K]>
      : never
    : never

/** Plain fields, the ones `list` filters and orders on. */
export type PlainFieldOf<D> =
  D extends TableDeclaration<Record<string, EncryptedColumn>, infer P>
    ? keyof P & string
    : never

const TABLE_NAME = /^[a-z][a-z0-9_]{0,63}$/
const COLUMN_NAME = /^[a-z][a-z0-9_]{0,63}$/
const FIELD_NAME = /^[a-z][A-Za-z0-9]{0,62}$/
/** Columns of every declared table besides its patient column. */
const LIBRARY_COLUMNS = ['id', 'created_at', 'updated_at']
/** Fields every row already has. */
const RESERVED_FIELDS = new Set(['id', 'patientId', 'createdAt', 'updatedAt'])
const ENCRYPTED_TYPES = new Set([
  'text',
  'date',
  'dateTime',
  'integer',
  'decimal',
  'boolean',
  'json',
  'bytes',
])
const PLAIN_TYPES = new Set(['text', 'integer', 'boolean', 'dateTime', 'rowId', 'enum'])

/** `startedOn` → `started_on`. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** The methods the repository calls on a column of each kind. */
const METHODS = {
  encrypted: ['encode', 'decode'],
  plain: ['toDriver', 'fromDriver'],
} as const

function checkColumn(def: unknown, kind: 'encrypted' | 'plain', field: string): void {
  const types = kind === 'encrypted' ? ENCRYPTED_TYPES : PLAIN_TYPES
  const d = def as Record<string, unknown> | null
  if (
    typeof d !== 'object' ||
    d === null ||
    d.kind !== kind ||
    !types.has(d.type as string) ||
    typeof d.nullable !== 'boolean' ||
    (d.column !== undefined && typeof d.column !== 'string') ||
    METHODS[kind].some((method) => typeof d[method] !== 'function')
  ) {
    throw new ValidationError(
      `${kind}.${field}`,
      `must be a column made by ${kind}.<type>(), e.g. ${kind}.text()`,
    )
  }
}

function resolve<C extends AnyColumn>(
  columns: Record<string, C> | undefined,
  kind: 'encrypted' | 'plain',
): DeclaredField<C>[] {
  if (columns === undefined) return []
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) {
    throw new ValidationError(kind, 'must be an object of columns')
  }
  return Object.entries(columns).map(([name, def]) => {
    if (!FIELD_NAME.test(name)) {
      throw new ValidationError(
        `${kind}.${name}`,
        'must be a camelCase field name (a letter, then letters and digits)',
      )
    }
    if (RESERVED_FIELDS.has(name)) {
      throw new ValidationError(`${kind}.${name}`, 'is a field every row already has')
    }
    checkColumn(def, kind, name)
    const column =
      def.column ?? (kind === 'encrypted' ? `${snakeCase(name)}_enc` : snakeCase(name))
    if (!COLUMN_NAME.test(column)) {
      throw new ValidationError(
        `${kind}.${name}`,
        'needs a column name of at most 64 lower-case letters, digits and _',
      )
    }
    return { name, column, def }
  })
}

/** Declares a table; a malformed declaration is a ValidationError here, at start-up. */
export function defineTable<
  E extends Record<string, EncryptedColumn>,
  P extends Record<string, PlainColumn> = Record<never, PlainColumn>,
>(spec: TableSpec<E, P>): TableDeclaration<E, P> {
  // Only the chart's `patients` is its own patient (declareTable): in any other
  // table the row and the patient are two things.
  const patientColumn = (spec as { patientColumn?: unknown } | null)?.patientColumn
  if (typeof patientColumn === 'string' && LIBRARY_COLUMNS.includes(patientColumn)) {
    throw new ValidationError(
      'patientColumn',
      `is ${patientColumn}, a column the library keeps for every row`,
    )
  }
  return declareTable(spec, ROW_AUDIT_ACTIONS)
}

/** defineTable with the audit actions of the chart's own tables. */
export function declareTable<
  E extends Record<string, EncryptedColumn>,
  P extends Record<string, PlainColumn>,
>(spec: TableSpec<E, P>, auditActions: TableAuditActions): TableDeclaration<E, P> {
  if (typeof spec !== 'object' || spec === null) {
    throw new ValidationError('table', 'must be a declaration object')
  }
  if (typeof spec.name !== 'string' || !TABLE_NAME.test(spec.name)) {
    throw new ValidationError(
      'name',
      'must be a table name of at most 64 lower-case letters, digits and _',
    )
  }
  const patientColumn = spec.patientColumn ?? 'patient_id'
  if (typeof patientColumn !== 'string' || !COLUMN_NAME.test(patientColumn)) {
    throw new ValidationError('patientColumn', 'must be a lower-case column name')
  }
  const encryptedFields = resolve(spec.encrypted, 'encrypted')
  if (encryptedFields.length === 0) {
    throw new ValidationError('encrypted', 'must declare at least one encrypted column')
  }
  const plainFields = resolve(spec.plain, 'plain')
  const own = new Set([...LIBRARY_COLUMNS, patientColumn])
  const names = new Set<string>()
  const columns = new Set<string>()
  for (const field of [...encryptedFields, ...plainFields]) {
    if (names.has(field.name)) {
      throw new ValidationError(field.name, 'is declared twice')
    }
    if (own.has(field.column)) {
      throw new ValidationError(
        field.name,
        `uses column ${field.column}, which the library keeps for every row`,
      )
    }
    if (columns.has(field.column)) {
      throw new ValidationError(field.name, `uses column ${field.column} twice`)
    }
    names.add(field.name)
    columns.add(field.column)
  }
  const convertingFrom: Record<string, string> = {}
  for (const [name, column] of Object.entries(spec.convertingFrom ?? {})) {
    if (!encryptedFields.some((f) => f.name === name)) {
      throw new ValidationError(`convertingFrom.${name}`, 'is not an encrypted field')
    }
    if (
      typeof column !== 'string' ||
      !COLUMN_NAME.test(column) ||
      columns.has(column) ||
      own.has(column)
    ) {
      throw new ValidationError(
        `convertingFrom.${name}`,
        'must name a plaintext column that is not a declared or library column',
      )
    }
    if (Object.values(convertingFrom).includes(column)) {
      throw new ValidationError(`convertingFrom.${name}`, `reuses column ${column}`)
    }
    convertingFrom[name] = column
  }
  const indexes = resolveIndexes(
    spec.indexes,
    encryptedFields,
    new Set([...own, ...columns, ...Object.values(convertingFrom)]),
    convertingFrom,
  )
  return Object.freeze({
    name: spec.name,
    patientColumn,
    encrypted: spec.encrypted,
    plain: (spec.plain ?? {}) as P,
    encryptedFields,
    plainFields,
    convertingFrom,
    auditActions,
    indexes,
  })
}
