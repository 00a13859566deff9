import type { Knex } from 'knex'
import { wipe } from '../crypto/bytes.js'
import { rowIdToString } from '../db/row-id.js'
import { NotFoundError } from '../errors/index.js'
import { selectChartRows } from '../repositories/chart-state.repository.js'
import { sealColumns } from '../repositories/encrypted-fields.js'
import {
  countSourceValues,
  listPatientsWithSource,
  lockSourceRows,
  replaceSource,
  type SourceRow,
} from '../repositories/conversion.repository.js'
import { lockPatientKeyVersion } from '../repositories/patient-key.repository.js'
import type { AuditAction } from './audit-checks.js'
import { auditedTransaction } from './audited.js'
import { chartTableOf, trackChartChange } from './chart-state.service.js'
import type { ConversionTarget } from './conversion-target.js'
import { recoveryOpener } from './key-openers.js'
import { fieldKeysFor } from './patient-access.js'
import type { RecoveryCredentials } from './recovery.service.js'
import { requireRole } from './roles.js'
import { inTransaction } from './transaction.js'
import type { VaultContext } from './vault-context.js'

/** Patients listed per query of the walk; each is then converted in a transaction of its own. */
const PATIENTS_PER_PAGE = 100

export interface ConversionProgress {
  /** Patients done so far in this call (checked, in a dry run). */
  readonly patients: number
  /** Values sealed so far (that would be, in a dry run). */
  readonly rows: number
  /** Patients that held a value to convert when the call started. */
  readonly total: number
}

export interface ConversionOptions {
  /** Reads and checks every value as the conversion would, and writes nothing. */
  readonly dryRun?: boolean
  readonly onProgress?: (progress: ConversionProgress) => void
  /** Stops the run cleanly between two patients; calling again resumes. */
  readonly signal?: AbortSignal
}

/** The option names every conversion takes, for its check of unknown ones. */
export const CONVERSION_OPTIONS = [
  'dryRun',
  'onProgress',
  'signal',
] as const satisfies readonly (keyof ConversionOptions)[]

export interface ConversionResult {
  readonly table: string
  readonly field: string
  /** The column converted from. */
  readonly column: string
  readonly dryRun: boolean
  /** Patients converted (in a dry run: that would be). */
  readonly patients: number
  /** Values sealed into the field (in a dry run: that would be). */
  readonly rows: number
  /** Source values cleared from rows that already had an envelope (written since). */
  readonly cleared: number
  /** False when stopped by `signal`: run again to finish. */
  readonly finished: boolean
  /** What still holds a source value when the call returns (0 once finished, unless written since). */
  readonly remaining: { readonly patients: number; readonly rows: number }
}

/**
 * What one conversion does with a patient's rows. `open` runs in the patient's
 * transaction before any of its rows is written (it may query: the legacy key
 * of a patient is looked up there) and returns the plaintext for each row.
 */
export interface RowConverter {
  readonly action: AuditAction
  open(
    trx: Knex.Transaction,
    patientId: Buffer,
  ): Promise<{ plaintextOf(row: SourceRow): Buffer; close(): void }>
}

/**
 * The walk both conversions share, modelled on rotate-all: the patients that
 * still hold a source value, in id order, one transaction each. In it the
 * patient row is locked first (a rotation waits: the envelope is written under
 * the key version read here), then the patient's rows; every value is turned
 * into plaintext and checked before the first UPDATE, the patient key is opened
 * with the recovery key, and each UPDATE writes the envelope and clears the
 * source. The audit row of the patient commits with it. A failure rolls that
 * patient back and stops the run; the patients before it stay converted, and a
 * new call resumes where the rows say.
 */
export async function runConversion(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  target: ConversionTarget,
  converter: RowConverter,
  options: ConversionOptions,
): Promise<ConversionResult> {
  const { admin } = authority
  const { spec, field } = target
  await requireRole(ctx.db, admin, 'admin', converter.action)
  const opener = recoveryOpener(ctx, authority.recoveryPrivateKey)
  const dryRun = options.dryRun === true
  const total = (await countSourceValues(ctx.db, spec)).patients
  let patients = 0
  let rows = 0
  let cleared = 0
  let finished = true
  let after: Buffer = Buffer.alloc(16)

  const convertPatient = async (trx: Knex.Transaction, patientId: Buffer) => {
    const version = await lockPatientKeyVersion(trx, patientId)
    if (version === undefined)
      throw new NotFoundError('patient', rowIdToString(patientId))
    const found = await lockSourceRows(trx, spec, patientId, !dryRun)
    const opened = await converter.open(trx, patientId)
    const plaintexts: (Buffer | undefined)[] = []
    try {
      for (const row of found)
        plaintexts.push(row.sealed ? undefined : opened.plaintextOf(row))
    } finally {
      opened.close()
    }
    const sealed = plaintexts.filter((p) => p !== undefined).length
    const done = { sealed, cleared: found.length - sealed }
    if (dryRun || found.length === 0) {
      wipe(...plaintexts)
      return done
    }
    const patientKey = await opener(trx, patientId, version)
    const keys = fieldKeysFor(patientKey, version)
    wipe(patientKey)
    try {
      // The rows as the chart state sees them before and after: each row gains an envelope.
      const table = chartTableOf(target.declaration)
      const ids = found.map((row) => row.id)
      const before = await selectChartRows(trx, table, patientId, { ids })
      for (const [i, row] of found.entries()) {
        const plaintext = plaintexts[i]
        const envelope =
          plaintext === undefined
            ? undefined
            : sealColumns(
                trx,
                spec.table,
                row.id,
                { [spec.envelopeColumn]: plaintext },
                keys,
              ).sql[spec.envelopeColumn]!
        await replaceSource(trx, spec, patientId, row.id, envelope)
      }
      const after = await selectChartRows(trx, table, patientId, { ids })
      await trackChartChange(trx, ctx.auditKey, patientId, before, after)
    } finally {
      wipe(keys.enc, keys.inner, keys.outer, ...plaintexts)
    }
    return done
  }

  walk: for (;;) {
    const batch = await listPatientsWithSource(ctx.db, spec, after, PATIENTS_PER_PAGE)
    if (batch.length === 0) break
    for (const patientId of batch) {
      if (options.signal?.aborted) {
        finished = false
        break walk
      }
      after = patientId
      const done = dryRun
        ? await inTransaction(ctx.db, (trx) => convertPatient(trx, patientId))
        : await auditedTransaction(
            ctx,
            { actorUserId: admin.userIdBytes, action: converter.action, patientId },
            (trx) => convertPatient(trx, patientId),
            (r) => ({
              detail: `table=${spec.table} field=${field.name} rows=${r.sealed} cleared=${r.cleared}`,
            }),
          )
      patients++
      rows += done.sealed
      cleared += done.cleared
      options.onProgress?.({ patients, rows, total })
    }
  }
  return {
    table: spec.table,
    field: field.name,
    column: spec.sourceColumn,
    dryRun,
    patients,
    rows,
    cleared,
    finished,
    remaining: await countSourceValues(ctx.db, spec),
  }
}
