import type { ChartRow } from '../crypto/chart-state.js'
import { quoteIdentifier } from '../sql/envelope-sql.js'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'

/** `emr_vault_chart_states`: one row per patient (migration 20261202_0006). */
export interface ChartStateRow {
  patient_id: Buffer
  row_count: number
  rows_digest: Buffer
  fields_digest: Buffer
  values_digest: Buffer
  write_seq: number
  mac: Buffer
}

const TABLE = 'emr_vault_chart_states'
const COLUMNS = [
  'patient_id',
  'row_count',
  'rows_digest',
  'fields_digest',
  'values_digest',
  'write_seq',
  'mac',
] as const

/**
 * The patient's state, locked: `update` by a write of the chart (held to COMMIT,
 * so writes of one patient take turns here), `share` by a check, which then sees
 * no write half-committed: every writer must take this row before it commits.
 */
export async function findChartState(
  db: Executor,
  patientId: Buffer,
  lock: 'update' | 'share' | 'none',
): Promise<ChartStateRow | undefined> {
  const q = db(TABLE).select(COLUMNS).where('patient_id', patientId)
  if (lock === 'update') q.forUpdate()
  if (lock === 'share') q.forShare()
  const rows = await selectRows<ChartStateRow>(db, q, 'read chart state')
  const row = rows[0]
  // BIGINT comes back as a string when it could exceed 2^53 (mysql2 supportBigNumbers).
  return (
    row && { ...row, row_count: Number(row.row_count), write_seq: Number(row.write_seq) }
  )
}

export async function insertChartState(db: Executor, row: ChartStateRow): Promise<void> {
  await executeWrite(db, db(TABLE).insert(row), 'record chart state')
}

/** Removes a patient's state (an administrator's reset, before recording it again). */
export async function deleteChartState(db: Executor, patientId: Buffer): Promise<void> {
  await executeWrite(
    db,
    db(TABLE).delete().where('patient_id', patientId),
    'reset chart state',
  )
}

/**
 * Patients after `after` (id order) that have no state yet:
 *
 *   SELECT p.id FROM patients p LEFT JOIN emr_vault_chart_states s ON s.patient_id = p.id
 *   WHERE s.patient_id IS NULL AND p.id > ? ORDER BY p.id LIMIT ?
 */
export async function listPatientsWithoutChartState(
  db: Executor,
  after: Buffer,
  limit: number,
): Promise<Buffer[]> {
  const rows = await selectRows<{ id: Buffer }>(
    db,
    db('patients as p')
      .leftJoin(`${TABLE} as s`, 's.patient_id', 'p.id')
      .whereNull('s.patient_id')
      .andWhere('p.id', '>', after)
      .select('p.id')
      .orderBy('p.id')
      .limit(limit),
    'list patients without chart state',
  )
  return rows.map((r) => r.id)
}

/** Moves the state from `fromSeq` on; false when another write moved it first. */
export async function updateChartState(
  db: Executor,
  fromSeq: number,
  row: ChartStateRow,
): Promise<boolean> {
  const { patient_id, ...values } = row
  const { affectedRows } = await executeWrite(
    db,
    db(TABLE)
      .update({ ...values, updated_at: db.raw('CURRENT_TIMESTAMP(3)') })
      .where({ patient_id, write_seq: fromSeq }),
    'update chart state',
  )
  return affectedRows === 1
}

/** Where one table keeps a patient's envelopes, as the state reads it. */
export interface ChartTable {
  readonly table: string
  readonly patientColumn: string
  readonly columns: readonly string[]
}

/**
 * SELECT `id`, SUBSTRING(`a_enc`, 6, 16) AS `a_enc`, … FROM `t`
 * WHERE `patient_id` = ? [AND `id` IN (…)] ORDER BY `id` [FOR UPDATE]
 *
 * The IV of every envelope (bytes 6 to 21 of the header, docs/envelope.md) of the
 * patient's rows: what a chart state is computed from. No key is needed, and no
 * value is opened.
 */
export async function selectChartRows(
  db: Executor,
  spec: ChartTable,
  patientId: Buffer,
  options: { ids?: readonly Buffer[]; forUpdate?: boolean } = {},
): Promise<ChartRow[]> {
  const q = db(spec.table)
    .select('id')
    .select(
      spec.columns.map((c) =>
        db.raw(`SUBSTRING(${quoteIdentifier(c)}, 6, 16) AS ${quoteIdentifier(c)}`),
      ),
    )
    .where(spec.patientColumn, patientId)
    .orderBy('id')
  if (options.ids) q.whereIn('id', [...options.ids])
  if (options.forUpdate) q.forUpdate()
  const rows = await selectRows<Record<string, Buffer | null> & { id: Buffer }>(
    db,
    q,
    `read envelope headers of ${spec.table}`,
  )
  return rows.map((r) => ({
    table: spec.table,
    rowId: r.id,
    ivs: Object.fromEntries(spec.columns.map((c) => [c, r[c] ?? null])),
  }))
}
