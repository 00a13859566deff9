import type { Knex } from 'knex'
import { DatabaseError, ValidationError } from '../errors/index.js'
import { selectDeclaredRows } from '../repositories/declared-rows.repository.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { indexColumnValues } from '../schema/index-values.js'
import { plaintextValue } from '../schema/plaintext-source.js'
import { decodeRow } from '../schema/row-codec.js'
import type { SqlFieldKeys } from '../sql/envelope-sql.js'
import { writeIndexKeysOf } from './search-keys.js'
import type { VaultContext } from './vault-context.js'

/**
 * The search index columns a write sets, computed in Node from the typed values
 * and written as bindings in the same statement as the envelopes
 * (docs/search.md). Only under the current search key.
 */

type IndexColumns = Record<string, Buffer | number | null>

function ownValues(input: unknown): Record<string, unknown> {
  const values = Object.create(null) as Record<string, unknown>
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) values[k] = v
  return values
}

/** Every index of a new row (the input already checked by encodeRow). */
export function indexesOfNewRow(
  ctx: VaultContext,
  decl: TableDeclaration,
  input: unknown,
): IndexColumns {
  if (decl.indexes.length === 0) return {}
  return indexColumnValues(decl.indexes, writeIndexKeysOf(ctx, decl), ownValues(input))
}

/**
 * The indexes an update moves: those over a changed field. An index over
 * several fields needs the ones not changed too; they are read (opened) from
 * the row, which the caller has locked.
 */
export async function indexesOfChanges(
  trx: Knex.Transaction,
  ctx: VaultContext,
  decl: TableDeclaration,
  patientId: Buffer,
  id: Buffer,
  changes: unknown,
  keys: SqlFieldKeys,
): Promise<IndexColumns> {
  const values = ownValues(changes)
  const moved = decl.indexes.filter((index) =>
    index.fields.some((f) => Object.hasOwn(values, f.name)),
  )
  if (moved.length === 0) return {}
  const missing = moved.some((index) =>
    index.fields.some((f) => !Object.hasOwn(values, f.name)),
  )
  if (missing) {
    const [row] = await selectDeclaredRows(trx, decl, patientId, keys, { ids: [id] })
    if (!row) return {} // the update then finds no row and says so
    const current = decodeRow(decl, row, (def, raw) =>
      plaintextValue(def, raw, 'plaintext'),
    ) as Record<string, unknown>
    for (const index of moved)
      for (const f of index.fields)
        if (!Object.hasOwn(values, f.name)) values[f.name] = current[f.name]
  }
  return indexColumnValues(moved, writeIndexKeysOf(ctx, decl), values)
}

/**
 * A write refused by a unique index: the value is another row's (a patient
 * registered twice). Named by field, never by value; `index` is
 * `<table>.<index>`. Callers record it (duplicate-values.ts): the refusal
 * tells that the value exists, as a search would.
 */
export class DuplicateValueError extends ValidationError {
  constructor(
    field: string,
    readonly index: string,
  ) {
    super(field, `is another row's already (unique index ${index.split('.')[1]})`)
  }
}

export function uniqueIndexError(decl: TableDeclaration, err: unknown): unknown {
  if (!(err instanceof DatabaseError) || err.driverCode !== 'ER_DUP_ENTRY') return err
  const index = decl.indexes.find(
    (i) => i.unique && err.constraint?.endsWith(`${decl.name}_${i.column}`),
  )
  if (!index) return err
  return new DuplicateValueError(
    index.fields.map((f) => f.name).join(', '),
    `${decl.name}.${index.name}`,
  )
}
