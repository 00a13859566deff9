import { rowIdFromString, rowIdToString } from '../db/row-id.js'
import { ValidationError } from '../errors/index.js'
import type { ColumnFilter, RowQuery } from '../repositories/declared-rows.repository.js'
import type { PlainColumn } from '../schema/column.js'
import type { TableDeclaration } from '../schema/define-table.js'
import type { OpenedRow } from '../schema/row-codec.js'
import { requireFields } from './require-object.js'

/** How `list` filters, orders and pages the rows of one patient. */
export interface ListOptions {
  /** Equality on plain fields: a value, an array of values (IN), or null (IS NULL). */
  readonly where?: Readonly<Record<string, unknown>>
  /** A non-nullable plain field, `createdAt` (the default) or `updatedAt`. */
  readonly orderBy?: string
  readonly direction?: 'asc' | 'desc'
  /** Rows per page: 1 to 1000, 100 by default. */
  readonly limit?: number
  /** The `next` of the previous page. */
  readonly after?: string | null
}

export const LIST_LIMIT_DEFAULT = 100
export const LIST_LIMIT_MAX = 1000

/** A parsed list: the query (one row more than a page, to know if another follows). */
export interface ListQuery {
  readonly sql: RowQuery
  readonly limit: number
  readonly orderField: string
  readonly direction: 'asc' | 'desc'
  readonly orderColumn: string
  readonly orderDef: PlainColumn | undefined
}

/** A Map, not an object: `orderBy: 'constructor'` must not find Object.prototype's. */
const OWN_ORDER: ReadonlyMap<string, string> = new Map([
  ['createdAt', 'created_at'],
  ['updatedAt', 'updated_at'],
])

const LIST_OPTIONS = ['where', 'orderBy', 'direction', 'limit', 'after'] as const

function cursorValue(def: PlainColumn | undefined, raw: unknown): unknown {
  if (def === undefined) return (raw as Date).toISOString()
  const value = def.fromDriver(raw)
  return value instanceof Date ? value.toISOString() : value
}

function badCursor(): ValidationError {
  return new ValidationError(
    'after',
    'is not a cursor of this list (same orderBy and direction)',
  )
}

function parseCursor(
  after: string,
  field: string,
  direction: string,
  def: PlainColumn | undefined,
): { value: unknown; id: Buffer } {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'))
  } catch {
    throw badCursor()
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw badCursor()
  const [f, d, v, id] = parsed as unknown[]
  if (f !== field || d !== direction || typeof id !== 'string') throw badCursor()
  try {
    const value =
      def === undefined
        ? checkDate(v)
        : def.toDriver(def.type === 'dateTime' ? checkDate(v) : v, 'after')
    return { value, id: rowIdFromString(id, 'after') }
  } catch {
    throw badCursor()
  }
}

function checkDate(v: unknown): Date {
  const date = typeof v === 'string' ? new Date(v) : new Date(NaN)
  if (Number.isNaN(date.getTime())) throw badCursor()
  return date
}

/** Checks the options against the declaration; every value becomes a binding. */
export function listQuery(decl: TableDeclaration, input: ListOptions): ListQuery {
  const options = requireFields<ListOptions>(
    input,
    'options',
    LIST_OPTIONS,
    'is not a list option',
  )
  const limit = options.limit ?? LIST_LIMIT_DEFAULT
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    throw new ValidationError('limit', `must be an integer from 1 to ${LIST_LIMIT_MAX}`)
  }
  const direction = options.direction ?? 'asc'
  if (direction !== 'asc' && direction !== 'desc') {
    throw new ValidationError('direction', "must be 'asc' or 'desc'")
  }
  const orderField = options.orderBy ?? 'createdAt'
  const orderPlain = decl.plainFields.find((f) => f.name === orderField)
  const orderColumn =
    typeof orderField === 'string'
      ? (OWN_ORDER.get(orderField) ?? orderPlain?.column)
      : undefined
  if (orderColumn === undefined || (orderPlain && orderPlain.def.nullable)) {
    throw new ValidationError(
      'orderBy',
      'must be createdAt, updatedAt or a non-nullable plain field',
    )
  }
  const filters: ColumnFilter[] = []
  const where = options.where ?? {}
  if (typeof where !== 'object' || where === null || Array.isArray(where)) {
    throw new ValidationError('where', 'must be an object of plain fields')
  }
  for (const [name, value] of Object.entries(where)) {
    const field = decl.plainFields.find((f) => f.name === name)
    if (!field) {
      throw new ValidationError(
        `where.${name}`,
        decl.encryptedFields.some((f) => f.name === name)
          ? 'is encrypted: only plain fields can be filtered in SQL'
          : `is not a field of ${decl.name}`,
      )
    }
    if (value === undefined) continue
    if (value === null) {
      if (!field.def.nullable) throw new ValidationError(`where.${name}`, 'is never null')
      filters.push({ column: field.column, value: null })
    } else if (Array.isArray(value)) {
      if (value.length === 0 || value.length > LIST_LIMIT_MAX) {
        throw new ValidationError(
          `where.${name}`,
          `must list 1 to ${LIST_LIMIT_MAX} values`,
        )
      }
      filters.push({
        column: field.column,
        value: value.map((v) => field.def.toDriver(v, `where.${name}`)),
      })
    } else {
      filters.push({
        column: field.column,
        value: field.def.toDriver(value, `where.${name}`),
      })
    }
  }
  const orderDef = orderPlain?.def
  const after =
    options.after === undefined || options.after === null
      ? undefined
      : typeof options.after === 'string'
        ? parseCursor(options.after, orderField, direction, orderDef)
        : (() => {
            throw badCursor()
          })()
  return {
    sql: {
      filters,
      order: { column: orderColumn, direction },
      ...(after ? { after } : {}),
      limit: limit + 1,
    },
    limit,
    orderField,
    direction,
    orderColumn,
    orderDef,
  }
}

/**
 * The cursor after the last row of a page, or null when no row follows. It is
 * the order value and row id in base64url JSON: plain values only, never an
 * encrypted one.
 */
export function nextCursor(query: ListQuery, rows: OpenedRow[]): string | null {
  if (rows.length <= query.limit) return null
  rows.length = query.limit
  const last = rows[query.limit - 1]!
  const json = JSON.stringify([
    query.orderField,
    query.direction,
    cursorValue(query.orderDef, last[query.orderColumn]),
    rowIdToString(last.id),
  ])
  return Buffer.from(json, 'utf8').toString('base64url')
}
