import { ValidationError } from '../errors/index.js'
import {
  listTableColumns,
  type ConversionSpec,
} from '../repositories/conversion.repository.js'
import type { DeclaredField, TableDeclaration } from '../schema/define-table.js'
import type { EncryptedColumn } from '../schema/column.js'
import { listCatalog } from '../schema/catalog.js'
import type { Executor } from '../sql/prepared.js'

/**
 * What a conversion acts on, checked before anything is read or written: a
 * declaration, one of its encrypted fields, and the column converted from, all
 * present in the database. Every mistake is a ValidationError naming the
 * argument and the rule.
 */
export interface ConversionTarget {
  readonly declaration: TableDeclaration
  readonly field: DeclaredField<EncryptedColumn>
  readonly spec: ConversionSpec
}

const COLUMN_NAME = /^[a-z][a-z0-9_]{0,63}$/

/** A declaration made by defineTable(), or a ValidationError. */
export function requireDeclaration(table: unknown): TableDeclaration {
  const d = table as Partial<TableDeclaration> | null
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.name !== 'string' ||
    typeof d.patientColumn !== 'string' ||
    !Array.isArray(d.encryptedFields) ||
    !Array.isArray(d.plainFields) ||
    typeof d.convertingFrom !== 'object' ||
    d.convertingFrom === null
  ) {
    throw new ValidationError(
      'table',
      'must be a table declaration made by defineTable()',
    )
  }
  return d as TableDeclaration
}

/** Columns a declaration already uses: the library's own and every declared field's. */
export function declaredColumns(table: TableDeclaration): Set<string> {
  return new Set([
    'id',
    table.patientColumn,
    'created_at',
    'updated_at',
    ...table.encryptedFields.map((f) => f.column),
    ...table.plainFields.map((f) => f.column),
  ])
}

/** The encrypted field `name` of `table`. */
export function requireEncryptedField(
  table: TableDeclaration,
  name: unknown,
): DeclaredField<EncryptedColumn> {
  const field =
    typeof name === 'string'
      ? table.encryptedFields.find((f) => f.name === name)
      : undefined
  if (!field) {
    throw new ValidationError(
      'field',
      `must be an encrypted field of ${table.name} (${table.encryptedFields.map((f) => f.name).join(', ')})`,
    )
  }
  return field
}

/** A column name given by the caller, not one the declaration uses. */
export function requireUndeclaredColumn(
  table: TableDeclaration,
  column: unknown,
  argument: string,
): string {
  if (typeof column !== 'string' || !COLUMN_NAME.test(column)) {
    throw new ValidationError(argument, 'must be a lower-case column name')
  }
  if (declaredColumns(table).has(column)) {
    throw new ValidationError(
      argument,
      `names ${table.name}.${column}, a column of the declaration, not one converted from`,
    )
  }
  return column
}

/**
 * Checks that the table and the columns a conversion reads and writes exist
 * (the row id, the patient column, the field's envelope column, the source).
 */
export async function requireColumns(
  db: Executor,
  table: TableDeclaration,
  field: DeclaredField<EncryptedColumn>,
  sourceColumn: string,
  sourceArgument: string,
): Promise<ConversionSpec> {
  const present = new Set(await listTableColumns(db, table.name))
  if (present.size === 0) {
    throw new ValidationError('table', `${table.name} does not exist in the database`)
  }
  for (const [column, argument] of [
    ['id', 'table'],
    [table.patientColumn, 'table'],
    [field.column, 'field'],
    [sourceColumn, sourceArgument],
  ] as const) {
    if (!present.has(column)) {
      throw new ValidationError(argument, `${table.name} has no column ${column}`)
    }
  }
  // A rotation run from anywhere (the CLI has no declarations) re-encrypts the
  // catalog's tables: values sealed into a column it does not list would stay
  // under a key version whose seals a revoke deletes.
  const entry = (await listCatalog(db)).find((e) => e.table === table.name)
  if (
    !entry ||
    entry.patientColumn !== table.patientColumn ||
    !entry.columns.includes(field.column)
  ) {
    throw new ValidationError(
      'table',
      `${table.name}.${field.column} is not in the catalog of declared tables (createEncryptedTable or addEncryptedColumns records it)`,
    )
  }
  return {
    table: table.name,
    patientColumn: table.patientColumn,
    envelopeColumn: field.column,
    sourceColumn,
  }
}

/**
 * Runs the caller's `toValue` on a row's old value. Its error is not passed on
 * (no message, no cause): a caller's parser may quote the value, as V8's
 * JSON.parse does. The operator gets the row to look at instead.
 */
export function callerToValue<T>(
  toValue: (input: T) => unknown,
  input: T,
  where: string,
): unknown {
  try {
    return toValue(input)
  } catch {
    throw new ValidationError(
      where,
      'was refused by toValue (its error is not shown: it may quote the value)',
    )
  }
}

/**
 * Runs `encode` on the row's value; a refusal is rethrown naming the table and
 * the row (the field's rule, never the value), so the operator can find it.
 */
export function encodeForRow(
  table: string,
  field: DeclaredField<EncryptedColumn>,
  rowId: string,
  value: unknown,
): Buffer {
  try {
    return field.def.encode(value, field.name)
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    const problem = err.message.startsWith(`"${err.field}" `)
      ? err.message.slice(err.field.length + 3)
      : 'is not a valid value'
    throw new ValidationError(`${table}.${field.name} of row ${rowId}`, problem)
  }
}
