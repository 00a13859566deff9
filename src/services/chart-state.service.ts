import {
  addSummaries,
  chartStateKey,
  chartStateMac,
  compareSummaries,
  subtractSummaries,
  summaryOf,
  type ChartFindingKind,
  type ChartRow,
  type ChartSummary,
} from '../crypto/chart-state.js'
import { macEquals } from '../crypto/audit-mac.js'
import { wipe } from '../crypto/bytes.js'
import { rowIdToString } from '../db/row-id.js'
import { IntegrityError } from '../errors/index.js'
import {
  findChartState,
  insertChartState,
  selectChartRows,
  updateChartState,
  type ChartStateRow,
  type ChartTable,
} from '../repositories/chart-state.repository.js'
import { envelopeTablesOf } from '../repositories/envelope-tables.js'
import { listCatalog } from '../schema/catalog.js'
import type { TableDeclaration } from '../schema/define-table.js'
import type { Executor } from '../sql/prepared.js'
import { noteChartState } from './chart-tags.js'

/**
 * Keeps each patient's chart state (crypto/chart-state.ts) in step with the
 * patient's rows: every write of an envelope removes the row's old elements and
 * adds its new ones, in the transaction of the write, and notes the new state for
 * the act's audit row (chart-tags.ts). A check compares the state with the rows
 * stored now (docs/integrity.md says what that catches, and when).
 */

/** What a check found; `message` names kinds and counts, never content. */
export interface ChartFinding {
  readonly kind:
    | ChartFindingKind
    /** The stored state's MAC does not verify: edited, or another deployment's. */
    | 'state_tampered'
    /** No state, though the audit trail records one for the patient. */
    | 'state_missing'
    /** The state is older than the last one the audit trail records: put back from a backup. */
    | 'state_rolled_back'
    /** The state is not the one the audit trail records at its write counter. */
    | 'state_replaced'
    /** The state moved past the last one the audit trail records. */
    | 'state_unaudited'
  readonly message: string
}

export interface ChartCheck {
  /** False for a patient whose state has not been recorded yet (a database from before chart states). */
  readonly recorded: boolean
  readonly findings: readonly ChartFinding[]
  /** The stored state, when there is one. */
  readonly state?: ChartStateRow
}

/** The envelope table of a declaration, as the state reads it. */
export function chartTableOf(decl: TableDeclaration): ChartTable {
  return {
    table: decl.name,
    patientColumn: decl.patientColumn,
    columns: decl.encryptedFields.map((f) => f.column),
  }
}

/** The tables a chart spans: the declarations and the catalog, as rotation walks them. */
export async function chartTables(
  db: Executor,
  declarations: Iterable<TableDeclaration>,
): Promise<ChartTable[]> {
  return envelopeTablesOf(declarations, await listCatalog(db))
}

function summaryOfRow(row: ChartStateRow): ChartSummary {
  return {
    count: row.row_count,
    rows: row.rows_digest,
    fields: row.fields_digest,
    values: row.values_digest,
  }
}

function stateRow(
  key: Buffer,
  patientId: Buffer,
  summary: ChartSummary,
  writeSeq: number,
): ChartStateRow {
  return {
    patient_id: patientId,
    row_count: summary.count,
    rows_digest: summary.rows,
    fields_digest: summary.fields,
    values_digest: summary.values,
    write_seq: writeSeq,
    mac: chartStateMac(key, patientId, summary, writeSeq),
  }
}

function isAuthentic(key: Buffer, row: ChartStateRow): boolean {
  return macEquals(
    row.mac,
    chartStateMac(key, row.patient_id, summaryOfRow(row), row.write_seq),
  )
}

function tamperedState(patientId: Buffer): IntegrityError {
  return new IntegrityError(
    `the chart state of patient ${rowIdToString(patientId)} failed its integrity check; ` +
      'run `emr-vault audit verify --patient`',
  )
}

/** Records the state of a new patient's chart (its first rows), write counter 1. */
export async function startChartState(
  trx: Executor,
  auditKey: Buffer,
  patientId: Buffer,
  rows: readonly ChartRow[],
): Promise<void> {
  const key = chartStateKey(auditKey)
  try {
    const row = stateRow(key, patientId, summaryOf(key, patientId, rows), 1)
    await insertChartState(trx, row)
    noteChartState(trx, patientId, row.write_seq, row.mac)
  } finally {
    wipe(key)
  }
}

/**
 * Moves the patient's state from rows as they were (`before`) to rows as they are
 * now (`after`), holding the state row until COMMIT. A patient without a state
 * (not yet recorded) is left without one. A state whose MAC fails is refused
 * (IntegrityError), as the audit head is: carrying it forward would hide what
 * was done to it. A rotation passes `keepTampered`: a revoke must go through,
 * and the state it leaves alone still fails its check.
 */
export async function trackChartChange(
  trx: Executor,
  auditKey: Buffer,
  patientId: Buffer,
  before: readonly ChartRow[],
  after: readonly ChartRow[],
  options: { keepTampered?: boolean } = {},
): Promise<void> {
  const state = await findChartState(trx, patientId, 'update')
  if (!state) return
  const key = chartStateKey(auditKey)
  try {
    if (!isAuthentic(key, state)) {
      if (options.keepTampered) return
      throw tamperedState(patientId)
    }
    // Applied to the recorded state, not recomputed from the rows: a difference
    // someone made before this write stays a difference after it.
    const next = addSummaries(
      subtractSummaries(summaryOfRow(state), summaryOf(key, patientId, before)),
      summaryOf(key, patientId, after),
    )
    const row = stateRow(key, patientId, next, state.write_seq + 1)
    if (!(await updateChartState(trx, state.write_seq, row))) {
      throw new IntegrityError('the chart state moved while locked')
    }
    noteChartState(trx, patientId, row.write_seq, row.mac)
  } finally {
    wipe(key)
  }
}

/** Every row of the patient in `tables`, as the state reads it. */
export async function readChartRows(
  db: Executor,
  tables: readonly ChartTable[],
  patientId: Buffer,
  forUpdate = false,
): Promise<ChartRow[]> {
  const rows: ChartRow[] = []
  for (const spec of tables) {
    rows.push(...(await selectChartRows(db, spec, patientId, { forUpdate })))
  }
  return rows
}

const MESSAGES: Record<ChartFindingKind, (n: number) => string> = {
  row_missing: (n) =>
    `${n} row(s) fewer than recorded hold envelopes: deleted, or every encrypted field set to NULL`,
  row_added: (n) =>
    `${n} row(s) more than recorded: inserted, or moved from another patient`,
  row_replaced: () => 'as many rows as recorded, but not the same ones',
  field_nulled: () => 'an encrypted field set to NULL (or a NULL field filled)',
  value_replaced: () =>
    'a field holds another envelope than recorded: an older value put back, or another',
}

/**
 * The patient's state, read FOR SHARE before a check: every writer takes it FOR
 * UPDATE before it commits, so no write of the patient commits while the check
 * reads the rows, and none is seen halfway.
 */
export async function lockChartStateForCheck(
  trx: Executor,
  patientId: Buffer,
): Promise<ChartStateRow | undefined> {
  return findChartState(trx, patientId, 'share')
}

/**
 * Compares `state` (from {@link lockChartStateForCheck}, taken as the first read
 * of the transaction, so the snapshot the rows are read from is not older than
 * it) with the patient's rows stored now.
 */
export async function checkChart(
  trx: Executor,
  auditKey: Buffer,
  patientId: Buffer,
  tables: readonly ChartTable[],
  state: ChartStateRow | undefined,
): Promise<ChartCheck> {
  if (!state) return { recorded: false, findings: [] }
  const key = chartStateKey(auditKey)
  try {
    if (!isAuthentic(key, state)) {
      return {
        recorded: true,
        state,
        findings: [{ kind: 'state_tampered', message: 'the chart state failed its MAC' }],
      }
    }
    const recorded = summaryOfRow(state)
    const actual = summaryOf(key, patientId, await readChartRows(trx, tables, patientId))
    const findings = compareSummaries(recorded, actual).map((kind) => ({
      kind,
      message: MESSAGES[kind](Math.abs(actual.count - recorded.count)),
    }))
    return { recorded: true, state, findings }
  } finally {
    wipe(key)
  }
}

/** An IntegrityError naming what a check found (kinds and counts only). */
export function chartIntegrityError(
  patientId: Buffer,
  findings: readonly ChartFinding[],
): IntegrityError {
  return new IntegrityError(
    `the chart of patient ${rowIdToString(patientId)} does not match its recorded state: ` +
      findings.map((f) => `${f.kind} (${f.message})`).join('; '),
  )
}
