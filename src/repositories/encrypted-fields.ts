import type { Knex } from 'knex'
import { randomBytes } from '../crypto/bytes.js'
import { ENVELOPE_IV_BYTES, envelopeAad } from '../crypto/envelope.js'
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

/** Raw SQL values sealing columns, and the IV each value is sealed under (null for NULL). */
export interface SealedColumns {
  readonly sql: Record<string, Knex.Raw | null>
  readonly ivs: Record<string, Buffer | null>
}

/**
 * Raw SQL values that seal each given column for the row `rowId`. The IVs are
 * made here, so the caller knows them without reading the row back: the chart
 * state (crypto/chart-state.ts) is computed from them.
 */
export function sealColumns<C extends string>(
  knex: Knex,
  table: string,
  rowId: Buffer,
  values: PlainColumns<C>,
  keys: SqlFieldKeys,
): SealedColumns {
  const sql: Record<string, Knex.Raw | null> = {}
  const ivs: Record<string, Buffer | null> = {}
  for (const [column, plaintext] of Object.entries(values) as [
    C,
    Buffer | null | undefined,
  ][]) {
    if (plaintext === undefined) continue
    if (plaintext === null) {
      sql[column] = null
      ivs[column] = null
      continue
    }
    const iv = randomBytes(ENVELOPE_IV_BYTES)
    const sealed = sealSql(plaintext, keys, envelopeAad(table, column, rowId), iv)
    sql[column] = knex.raw(sealed.sql, [...sealed.bindings] as Knex.RawBinding[])
    ivs[column] = iv
  }
  return { sql, ivs }
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
