import type { Knex } from 'knex'
import { envelopeAad } from '../crypto/envelope.js'
import { rowIdToString } from '../db/row-id.js'
import { IntegrityError } from '../errors/index.js'
import { decodeOpened, openSql, sealSql, type SqlFieldKeys } from '../sql/envelope-sql.js'

/**
 * Envelope columns of one table: sealing values for INSERT/UPDATE and opening
 * them in SELECT. The AAD of each value names table, column and row, so an
 * envelope copied to another row, column or patient fails its tag.
 */

/** Plaintext per column; `null` stores SQL NULL (an absent optional field). */
export type PlainColumns<C extends string> = Partial<Record<C, Buffer | null>>

/** Raw SQL values that seal each given column for the row `rowId`. */
export function sealColumns<C extends string>(
  knex: Knex,
  table: string,
  rowId: Buffer,
  values: PlainColumns<C>,
  keys: SqlFieldKeys,
): Record<string, Knex.Raw | null> {
  const out: Record<string, Knex.Raw | null> = {}
  for (const [column, plaintext] of Object.entries(values) as [
    C,
    Buffer | null | undefined,
  ][]) {
    if (plaintext === undefined) continue
    if (plaintext === null) {
      out[column] = null
      continue
    }
    const { sql, bindings } = sealSql(plaintext, keys, envelopeAad(table, column, rowId))
    out[column] = knex.raw(sql, [...bindings] as Knex.RawBinding[])
  }
  return out
}

/**
 * SELECT expressions opening each column of `table` (aliased `alias`), named after
 * the column. The row id that ends the AAD is read from `alias.id`.
 */
export function openColumns(
  knex: Knex,
  table: string,
  alias: string,
  columns: readonly string[],
  keys: SqlFieldKeys,
): Knex.Raw[] {
  return columns.map((column) => {
    const prefix = envelopeAad(table, column, Buffer.alloc(16)).subarray(0, -16)
    const { sql, bindings } = openSql(`${alias}.${column}`, keys, prefix, `${alias}.id`)
    return knex.raw(`${sql} AS \`${column}\``, [...bindings] as Knex.RawBinding[])
  })
}

/**
 * Reads the opened columns of one result row. A failed tag is an IntegrityError
 * naming table, column and row id (identifiers, never content).
 */
export function decodeColumns<C extends string>(
  table: string,
  row: Record<string, unknown> & { id: Buffer },
  columns: readonly C[],
): Record<C, Buffer | null> {
  const out = {} as Record<C, Buffer | null>
  for (const column of columns) {
    const opened = decodeOpened(row[column] as Buffer | null)
    if (opened === 'tampered') {
      throw new IntegrityError(
        `${table}.${column} of row ${rowIdToString(row.id)} failed its integrity check`,
      )
    }
    out[column] = opened
  }
  return out
}
