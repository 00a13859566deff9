import type { Knex } from 'knex'
import { rowIdFromString, rowIdToString } from '../db/row-id.js'
import { IntegrityError, NotFoundError, ValidationError } from '../errors/index.js'
import { findLastChartDetail } from '../repositories/audit-log.repository.js'
import { AUDIT_TABLES } from '../repositories/audit-log.row.js'
import {
  deleteChartState,
  listPatientsWithoutChartState,
} from '../repositories/chart-state.repository.js'
import { selectDeclaredRows } from '../repositories/declared-rows.repository.js'
import {
  lockPatientKeyVersion,
  patientRowExists,
} from '../repositories/patient-key.repository.js'
import { CLINICAL_RECORDS, PATIENTS } from '../schema/chart-tables.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { checkAuditKey } from './audit-checks.js'
import { auditedTransaction } from './audited.js'
import {
  chartIntegrityError,
  chartTables,
  checkChart,
  lockChartStateForCheck,
  readChartRows,
  startChartState,
  type ChartFinding,
} from './chart-state.service.js'
import { parseChartTag, tagNamesMac } from './chart-tags.js'
import { decodeDeclaredRow } from './declared-rows.service.js'
import type { ClinicalRecord, Patient } from './domain.js'
import { patientFieldKeys } from './patient-access.js'
import { patientOf } from './patient.service.js'
import { requireFields } from './require-object.js'
import { requireRole } from './roles.js'
import { tableRegistry } from './table-registry.js'
import { inTransaction } from './transaction.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/**
 * The chart as a whole: read with its state checked, verified against the audit
 * trail, and the states of an existing database recorded once
 * (docs/integrity.md).
 */

const MISSING_STATE: ChartFinding = {
  kind: 'state_missing',
  message: 'the audit trail records a chart state; the chart has none',
}

/** A chart read in one transaction, its state checked first. */
export interface Chart {
  readonly patient: Patient
  readonly records: readonly ClinicalRecord[]
  /**
   * `verified`: every row of the patient, in every declared table, matches the
   * recorded state. `not_recorded`: the patient has no state yet (a database from
   * before chart states, until `emr-vault chart baseline`); nothing was checked.
   */
  readonly state: 'verified' | 'not_recorded'
}

/**
 * The patient's demographics and clinical records, after checking every row of
 * the patient (in all declared tables) against the recorded state: a row
 * deleted, added, NULLed or rolled back is an IntegrityError naming the kind.
 */
export async function readChart(
  ctx: VaultContext,
  session: UnlockedUser,
  patientId: string,
): Promise<Chart> {
  const pid = rowIdFromString(patientId, 'patientId')
  const act = {
    actorUserId: session.userIdBytes,
    action: 'chart.read',
    patientId: pid,
  } as const
  return auditedTransaction(
    ctx,
    act,
    async (trx) => {
      // First, before any read takes the snapshot (chart-state.service.ts).
      const state = await lockChartStateForCheck(trx, pid)
      const keys = await patientFieldKeys(trx, session, pid)
      const tables = await chartTables(trx, ctx.tables.values())
      const check = await checkChart(trx, ctx.auditKey, pid, tables, state)
      if (check.findings.length > 0) throw chartIntegrityError(pid, check.findings)
      // No state: a patient not yet recorded, or a state deleted. Only the audit
      // trail tells them apart, and only this rare case pays for reading it.
      if (!state && (await findLastChartDetail(trx, AUDIT_TABLES, pid))) {
        throw chartIntegrityError(pid, [MISSING_STATE])
      }
      const [row] = await selectDeclaredRows(trx, PATIENTS, pid, keys, { ids: [pid] }, [
        'current_key_version',
      ])
      if (!row) throw new NotFoundError('patient', patientId)
      const records = await selectDeclaredRows(trx, CLINICAL_RECORDS, pid, keys)
      return {
        patient: patientOf(row, patientId),
        records: records.map(
          (r) => decodeDeclaredRow(CLINICAL_RECORDS, r) as ClinicalRecord,
        ),
        state: check.recorded ? 'verified' : 'not_recorded',
      } as const
    },
    (chart) => ({
      detail: `${chart.records.length} records, state ${chart.state.replace('_', ' ')}`,
    }),
  )
}

export interface ChartVerifyResult {
  readonly patientId: string
  readonly ok: boolean
  /** False when the patient has no state and the audit trail records none. */
  readonly recorded: boolean
  readonly findings: readonly ChartFinding[]
}

/**
 * Verifies one patient's chart with the audit key alone (no patient key): the
 * rows against the recorded state, and the state against the last one the
 * audit trail records for the patient. The second finds what a read cannot: a
 * chart put back, with its state, from a backup. It trusts the audit trail, so
 * run it with `verifyAuditChain` (the CLI's `audit verify --patient` does both).
 *
 * @param tables - the application's declarations; the catalog's tables are read too
 */
export async function verifyPatientChart(
  db: Knex,
  auditKey: Buffer,
  patientId: string,
  options: { tables?: readonly TableDeclaration[] } = {},
): Promise<ChartVerifyResult> {
  checkAuditKey(auditKey)
  const o = requireFields<typeof options>(options, 'options', ['tables'])
  return verifyChartOf(db, auditKey, patientId, tableRegistry(o.tables).values())
}

/**
 * {@link verifyPatientChart} over a vault's registry of declarations. An id with
 * no patient row, no state and no chart audit row is NotFoundError.
 */
export async function verifyChartOf(
  db: Knex,
  auditKey: Buffer,
  patientId: string,
  declarations: Iterable<TableDeclaration>,
): Promise<ChartVerifyResult> {
  const pid = rowIdFromString(patientId, 'patientId')
  return inTransaction(db, async (trx) => {
    const state = await lockChartStateForCheck(trx, pid)
    const tables = await chartTables(trx, declarations)
    const check = await checkChart(trx, auditKey, pid, tables, state)
    const findings = [...check.findings]
    const tag = parseChartTag((await findLastChartDetail(trx, AUDIT_TABLES, pid)) ?? null)
    // Nothing at all of this id: a mistyped id, not a chart to vouch for.
    if (!state && !tag && !(await patientRowExists(trx, pid))) {
      throw new NotFoundError('patient', patientId)
    }
    if (tag && !state) {
      findings.push({
        kind: 'state_missing',
        message: `the audit trail records state ${tag.writeSeq}; the chart has none`,
      })
    } else if (!tag && state) {
      findings.push({
        kind: 'state_unaudited',
        message: `state ${state.write_seq} is in no audit row`,
      })
    } else if (tag && state) {
      if (state.write_seq < tag.writeSeq) {
        findings.push({
          kind: 'state_rolled_back',
          message: `state ${state.write_seq} is older than ${tag.writeSeq}, the last in the audit trail`,
        })
      } else if (state.write_seq > tag.writeSeq) {
        findings.push({
          kind: 'state_unaudited',
          message: `state ${state.write_seq} is newer than ${tag.writeSeq}, the last in the audit trail`,
        })
      } else if (!tagNamesMac(tag.macPrefix, state.mac)) {
        findings.push({
          kind: 'state_replaced',
          message: `state ${state.write_seq} is not the one the audit trail records`,
        })
      }
    }
    return {
      patientId: rowIdToString(pid),
      ok: findings.length === 0,
      recorded: check.recorded || tag !== undefined,
      findings,
    }
  })
}

export interface ChartBaselineResult {
  /** Patients whose state was recorded now. */
  readonly recorded: number
  /** Patients refused: the audit trail records a state they no longer have (ids). */
  readonly refused: readonly string[]
}

const PATIENTS_PER_PAGE = 100
const BASELINE_OPTIONS = ['reset', 'signal', 'onProgress']

/**
 * Records the state of every patient who has none, from the rows as the
 * database holds them now: once, after upgrading a database made before chart
 * states (like `certifyUsers`, it vouches for what is there). Resumable: each
 * patient is its own audited transaction and is skipped once recorded. A patient
 * whose state the audit trail says existed is refused (its state was deleted),
 * unless `reset` names that patient: an administrator's decision, after an
 * investigation, to record the chart as it now is (also for a state that fails
 * its MAC, which otherwise refuses every write of the patient).
 */
export async function recordChartStates(
  ctx: VaultContext,
  admin: UnlockedUser,
  options: {
    reset?: string
    signal?: AbortSignal
    /** After each patient recorded or refused: the counts so far. */
    onProgress?: (progress: { recorded: number; refused: number }) => void
  } = {},
): Promise<ChartBaselineResult> {
  const o = requireFields<typeof options>(options, 'options', BASELINE_OPTIONS)
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new ValidationError('onProgress', 'must be a function')
  }
  await requireRole(ctx.db, admin, 'admin', 'chart.baseline')
  if (o.reset !== undefined) {
    const pid = rowIdFromString(o.reset, 'reset')
    await recordOne(ctx, admin, pid, true)
    return { recorded: 1, refused: [] }
  }
  let recorded = 0
  const refused: string[] = []
  let after: Buffer = Buffer.alloc(16)
  for (;;) {
    const batch = await listPatientsWithoutChartState(ctx.db, after, PATIENTS_PER_PAGE)
    if (batch.length === 0) break
    for (const pid of batch) {
      if (o.signal?.aborted) return { recorded, refused }
      after = pid
      try {
        if (await recordOne(ctx, admin, pid, false)) recorded++
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err
        refused.push(rowIdToString(pid))
      }
      o.onProgress?.({ recorded, refused: refused.length })
    }
  }
  return { recorded, refused }
}

async function recordOne(
  ctx: VaultContext,
  admin: UnlockedUser,
  pid: Buffer,
  reset: boolean,
): Promise<boolean> {
  const act = {
    actorUserId: admin.userIdBytes,
    action: 'chart.baseline',
    patientId: pid,
    ...(reset ? { detail: 'reset' } : {}),
  } as const
  return auditedTransaction(ctx, act, async (trx) => {
    // FOR UPDATE on the patient row: writers of the chart hold it shared.
    if ((await lockPatientKeyVersion(trx, pid)) === undefined) {
      throw new ValidationError('reset', 'names no patient')
    }
    const state = await lockChartStateForCheck(trx, pid)
    if (state && !reset) return false
    if (!reset && (await findLastChartDetail(trx, AUDIT_TABLES, pid))) {
      throw new IntegrityError(
        `the audit trail records a chart state for patient ${rowIdToString(pid)}, which has none now; ` +
          'investigate, then record it again with reset',
      )
    }
    if (state) await deleteChartState(trx, pid)
    const tables = await chartTables(trx, ctx.tables.values())
    await startChartState(
      trx,
      ctx.auditKey,
      pid,
      await readChartRows(trx, tables, pid, true),
    )
    return true
  })
}
