import type { Knex } from 'knex'
import type { ChartRow } from '../crypto/chart-state.js'
import type { TableDeclaration } from '../schema/define-table.js'
import type { OpenedRow } from '../schema/row-codec.js'
import type { SqlFieldKeys } from '../sql/envelope-sql.js'
import { rowsOfPatientsSql } from '../sql/rows-of-patients-sql.js'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import { decodeColumns, openColumns, sealColumns } from './encrypted-fields.js'
import { envelopeTable } from './envelope-tables.js'

/**
 * SQL for the rows of any declared table, always for one patient: every
 * statement is filtered by the patient column, so a row id alone opens or
 * changes nothing. Envelopes are sealed and opened in SQL with the subkeys as
 * bindings (encrypted-fields.ts); plain values are bindings too.
 */

/** One filter on a plain column: equality, IN (an array) or IS NULL. */
export interface ColumnFilter {
  readonly column: string
  readonly value: unknown
}

export interface RowQuery {
  /** Only these rows (still of this patient). */
  readonly ids?: readonly Buffer[]
  readonly filters?: readonly ColumnFilter[]
  /** A non-null column to order by; the row id breaks ties in the same direction. */
  readonly order?: { readonly column: string; readonly direction: 'asc' | 'desc' }
  /** Keyset paging: rows strictly after this (order value, id). */
  readonly after?: { readonly value: unknown; readonly id: Buffer }
  readonly limit?: number
}

function patientIsRow(decl: TableDeclaration): boolean {
  return decl.patientColumn === 'id'
}

/**
 * Returns the row as the chart state sees it (its envelope columns' IVs).
 *
 * INSERT INTO `t` (`id`, `patient_id`, `status`, `drug_enc`, …)
 * VALUES (?, ?, ?, (SELECT CONCAT(e.h, e.c, <tag>) FROM (SELECT CAST(? AS BINARY) AS h, AES_ENCRYPT(?, ?, ?) AS c) AS e), …)
 */
export async function insertDeclaredRow(
  db: Executor,
  decl: TableDeclaration,
  key: { id: Buffer; patientId: Buffer },
  plain: Record<string, unknown>,
  encrypted: Record<string, Buffer | null>,
  keys: SqlFieldKeys,
  extra: Record<string, unknown> = {},
): Promise<ChartRow> {
  const sealed = sealColumns(db, decl.name, key.id, encrypted, keys)
  await executeWrite(
    db,
    db(decl.name).insert({
      id: key.id,
      ...(patientIsRow(decl) ? {} : { [decl.patientColumn]: key.patientId }),
      ...extra,
      ...plain,
      ...sealed.sql,
    }),
    `insert into ${decl.name}`,
  )
  return { table: decl.name, rowId: key.id, ivs: sealed.ivs }
}

/**
 * SELECT t.id, t.patient_id, t.created_at, t.updated_at, t.<plain>…,
 *        (CASE WHEN t.drug_enc IS NULL THEN NULL WHEN <tag verifies> THEN … END) AS drug_enc, …
 * FROM `medications` AS t
 * WHERE t.patient_id = ? [AND t.id IN (…)] [AND t.status = ?] [AND (t.o > ? OR (t.o = ? AND t.id > ?))]
 * ORDER BY t.o, t.id LIMIT ?
 *
 * Envelopes come back opened (bytes, or NULL); a failed tag is an IntegrityError.
 */
export async function selectDeclaredRows(
  db: Executor,
  decl: TableDeclaration,
  patientId: Buffer,
  keys: SqlFieldKeys,
  query: RowQuery = {},
  extraColumns: readonly string[] = [],
): Promise<OpenedRow[]> {
  const rows = await selectRows<OpenedRow>(
    db,
    declaredRowsQuery(db, decl, patientId, keys, query, extraColumns),
    `read ${decl.name}`,
  )
  return rows.map((row) => decodeRow(decl, row))
}

/** Rows of one patient to open: `ids` of that patient, with its keys. */
export interface PatientRows {
  readonly patientId: Buffer
  readonly keys: SqlFieldKeys
  readonly ids: readonly Buffer[]
}

/**
 * The given rows of several patients, each opened with its own patient's keys,
 * in one statement (a search's stage two: sql/rows-of-patients-sql.ts). Each
 * shape is a prepared statement of its own on the server, whose count is
 * capped for every client (max_prepared_stmt_count), so the shapes are few: the
 * keys rows are padded to a power of two (rows for the nil patient id, which no
 * patient has) and the ids too (the last id repeated, which adds no row). Rows
 * come back in `patients` order, then by creation.
 */
export async function selectRowsOfPatients(
  db: Executor,
  decl: TableDeclaration,
  patients: readonly PatientRows[],
  extraColumns: readonly string[] = [],
): Promise<OpenedRow[]> {
  if (patients.length === 0) return []
  const last = patients.at(-1)!
  const ids = patients.flatMap((p) => p.ids)
  const statement = rowsOfPatientsSql(
    {
      ...envelopeTable(
        decl.name,
        decl.patientColumn,
        decl.encryptedFields.map((f) => f.column),
      ),
      plainColumns: plainColumnsOf(decl, extraColumns),
    },
    [
      ...patients,
      ...Array<PatientRows>(powerOfTwoAtLeast(patients.length) - patients.length).fill({
        ...last,
        patientId: NIL_ID,
      }),
    ],
    [
      ...ids,
      ...Array<Buffer>(powerOfTwoAtLeast(ids.length) - ids.length).fill(ids.at(-1)!),
    ],
  )
  const rows = await selectRows<OpenedRow>(db, statement, `read ${decl.name}`)
  const order = new Map(patients.map((p, i) => [p.patientId.toString('hex'), i]))
  const position = (row: OpenedRow) =>
    order.get((row[decl.patientColumn] as Buffer).toString('hex'))!
  return rows
    .map((row) => decodeRow(decl, row))
    .sort(
      (a, b) =>
        position(a) - position(b) ||
        (a['created_at'] as Date).getTime() - (b['created_at'] as Date).getTime() ||
        Buffer.compare(a.id, b.id),
    )
}

const NIL_ID = Buffer.alloc(16)

function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 1)))
}

function decodeRow(decl: TableDeclaration, row: OpenedRow): OpenedRow {
  return {
    ...row,
    ...decodeColumns(
      decl.name,
      row,
      decl.encryptedFields.map((f) => f.column),
    ),
  }
}

/** The columns read as stored: ids, times, plain fields, and the caller's extras. */
function plainColumnsOf(
  decl: TableDeclaration,
  extraColumns: readonly string[],
): string[] {
  return [
    ...new Set([
      'id',
      decl.patientColumn,
      'created_at',
      'updated_at',
      ...extraColumns,
      ...decl.plainFields.map((f) => f.column),
      ...Object.values(decl.convertingFrom),
    ]),
  ]
}

function declaredRowsQuery(
  db: Executor,
  decl: TableDeclaration,
  patientId: Buffer,
  keys: SqlFieldKeys,
  query: RowQuery,
  extraColumns: readonly string[],
): Knex.QueryBuilder {
  const encryptedColumns = decl.encryptedFields.map((f) => f.column)
  const q = db(`${decl.name} as t`)
    .select(plainColumnsOf(decl, extraColumns).map((c) => `t.${c}`))
    .select(openColumns(db, decl.name, 't', encryptedColumns, keys))
    .where(`t.${decl.patientColumn}`, patientId)
  if (query.ids) q.whereIn('t.id', [...query.ids])
  for (const filter of query.filters ?? []) {
    const column = `t.${filter.column}`
    if (filter.value === null) q.whereNull(column)
    else if (Array.isArray(filter.value)) q.whereIn(column, filter.value)
    else q.where(column, filter.value as Knex.Value)
  }
  const order = query.order ?? { column: 'created_at', direction: 'asc' }
  const o = `t.${order.column}`
  if (query.after) {
    const cmp = order.direction === 'asc' ? '>' : '<'
    const { value, id } = query.after
    q.andWhere((w) =>
      w
        .where(o, cmp, value as Knex.Value)
        .orWhere((w2) => w2.where(o, value as Knex.Value).andWhere('t.id', cmp, id)),
    )
  }
  q.orderBy([
    { column: o, order: order.direction },
    { column: 't.id', order: order.direction },
  ])
  if (query.limit !== undefined) q.limit(query.limit)
  return q
}

/**
 * UPDATE `t` SET `status` = ?, `drug_enc` = (<seal>), `updated_at` = CURRENT_TIMESTAMP(3)
 * WHERE `id` = ? AND `patient_id` = ?
 *
 * @returns whether the row (of this patient) existed, and the IV of each column written
 */
export async function updateDeclaredRow(
  db: Executor,
  decl: TableDeclaration,
  patientId: Buffer,
  id: Buffer,
  plain: Record<string, unknown>,
  encrypted: Record<string, Buffer | null>,
  keys: SqlFieldKeys,
  extra: Record<string, unknown> = {},
): Promise<{ found: boolean; ivs: Record<string, Buffer | null> }> {
  const sealed = sealColumns(db, decl.name, id, encrypted, keys)
  const { affectedRows } = await executeWrite(
    db,
    db(decl.name)
      .update({
        ...extra,
        ...plain,
        ...sealed.sql,
        updated_at: db.raw('CURRENT_TIMESTAMP(3)'),
      })
      .where({ id, [decl.patientColumn]: patientId }),
    `update ${decl.name}`,
  )
  return { found: affectedRows === 1, ivs: sealed.ivs }
}

/** DELETE FROM `t` WHERE `id` = ? AND `patient_id` = ?; whether the row existed. */
export async function deleteDeclaredRow(
  db: Executor,
  decl: TableDeclaration,
  patientId: Buffer,
  id: Buffer,
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    db,
    db(decl.name)
      .delete()
      .where({ id, [decl.patientColumn]: patientId }),
    `delete from ${decl.name}`,
  )
  return affectedRows === 1
}
