import type { Knex } from 'knex'
import { wipe } from '../crypto/bytes.js'
import { hmacSha256 } from '../crypto/hmac.js'
import { rowIdToString } from '../db/row-id.js'
import { DatabaseError, NotFoundError } from '../errors/index.js'
import { selectDeclaredRows } from '../repositories/declared-rows.repository.js'
import { lockPatientKeyVersion } from '../repositories/patient-key.repository.js'
import {
  advanceIndexRun,
  countPatientsAfter,
  finishIndexRun,
  listPatientsAfter,
  setIndexColumns,
  startIndexRun,
} from '../repositories/search-index-runs.repository.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { indexColumnValues } from '../schema/index-values.js'
import { auditedTransaction } from './audited.js'
import { decodeDeclaredRow } from './declared-rows.service.js'
import { recoveryOpener } from './key-openers.js'
import { fieldKeysFor } from './patient-access.js'
import type { RecoveryCredentials } from './recovery.service.js'
import { requireFields } from './require-object.js'
import { requireRole } from './roles.js'
import { writeIndexKeysOf } from './search-keys.js'
import type { VaultContext } from './vault-context.js'

/**
 * Rebuilding every search index under the current search key (docs/search.md):
 * after a rotation of the key (the old one configured as `previousSearchKey`
 * meanwhile, so searches find rows under either), and once after migration
 * 0007 for the rows written before it. An index value is an HMAC of the
 * plaintext, so every indexed row is opened: the patient key comes from the
 * recovery seal, as in a conversion.
 *
 * One transaction per patient, in id order: the patient row locked (a write to
 * the patient waits, so no index is left behind by a concurrent update), the
 * patient's indexed rows opened and their index columns set, the audit row and
 * the run's progress (`emr_vault_search_index_runs`, by a fingerprint of the
 * key) in the same commit. Stopped by `signal` or killed, a new call resumes
 * at the next patient.
 */

export interface ReindexProgress {
  /** Patients indexed so far in this call. */
  readonly patients: number
  /** Patients left when the call started. */
  readonly total: number
}

export interface ReindexOptions {
  readonly onProgress?: (progress: ReindexProgress) => void
  /** Stops cleanly between two patients; calling again resumes. */
  readonly signal?: AbortSignal
}

export interface ReindexResult {
  /** Patients indexed in this call. */
  readonly patients: number
  /** Rows whose index columns were set. */
  readonly rows: number
  /** False when stopped by `signal`: call again to finish. */
  readonly finished: boolean
  /** Patients not yet indexed under the current key. */
  readonly remaining: number
  /**
   * Rows whose value another row already holds under a unique index (one
   * person registered twice): left out of that index, to be merged or corrected.
   */
  readonly conflicts: { readonly patientId: string; readonly index: string }[]
}

const PATIENTS_PER_PAGE = 100
const FINGERPRINT_LABEL = Buffer.from('emr-vault/search-key-fingerprint/v1', 'utf8')
const NO_PATIENT = Buffer.alloc(16)

/** Names the search key in the database without revealing it: an HMAC under it. */
export function searchKeyFingerprint(searchKey: Buffer): Buffer {
  return hmacSha256(searchKey, FINGERPRINT_LABEL)
}

function isDuplicate(err: unknown): boolean {
  return err instanceof DatabaseError && err.driverCode === 'ER_DUP_ENTRY'
}

export async function rebuildSearchIndexes(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  options: ReindexOptions = {},
): Promise<ReindexResult> {
  const { onProgress, signal } = requireFields<ReindexOptions>(options, 'options', [
    'onProgress',
    'signal',
  ])
  const { admin } = authority
  await requireRole(ctx.db, admin, 'admin', 'rebuilding the search indexes')
  const opener = recoveryOpener(ctx, authority.recoveryPrivateKey)
  const tables = [...ctx.tables.values()].filter((d) => d.indexes.length > 0)
  const fingerprint = searchKeyFingerprint(ctx.searchKeys[0]!)
  const run = await startIndexRun(ctx.db, fingerprint)
  let after = run.last_patient_id ?? NO_PATIENT
  const total = run.finished_at ? 0 : await countPatientsAfter(ctx.db, after)
  const conflicts: { patientId: string; index: string }[] = []
  let patients = 0
  let rows = 0
  let finished = true

  const indexRow = async (
    trx: Knex.Transaction,
    decl: TableDeclaration,
    patientId: Buffer,
    row: Record<string, unknown>,
  ): Promise<void> => {
    const columns = indexColumnValues(
      decl.indexes,
      writeIndexKeysOf(ctx, decl),
      decodeDeclaredRow(decl, row as never) as Record<string, unknown>,
    )
    const id = row['id'] as Buffer
    try {
      await setIndexColumns(trx, decl.name, decl.patientColumn, id, patientId, columns)
    } catch (err) {
      // InnoDB undoes the one statement; the transaction goes on without the
      // unique values, and the run reports them.
      if (!isDuplicate(err)) throw err
      const unique = decl.indexes.filter((i) => i.unique && columns[i.column] !== null)
      for (const index of unique) columns[index.column] = null
      await setIndexColumns(trx, decl.name, decl.patientColumn, id, patientId, columns)
      for (const index of unique)
        conflicts.push({
          patientId: rowIdToString(patientId),
          index: `${decl.name}.${index.name}`,
        })
    }
  }

  const indexPatient = async (trx: Knex.Transaction, patientId: Buffer) => {
    const version = await lockPatientKeyVersion(trx, patientId)
    if (version === undefined)
      throw new NotFoundError('patient', rowIdToString(patientId))
    const patientKey = await opener(trx, patientId, version)
    const keys = fieldKeysFor(patientKey, version)
    wipe(patientKey)
    let done = 0
    try {
      for (const decl of tables) {
        const opened = await selectDeclaredRows(trx, decl, patientId, keys)
        for (const row of opened) await indexRow(trx, decl, patientId, row)
        done += opened.length
      }
    } finally {
      wipe(keys.enc, keys.inner, keys.outer)
    }
    await advanceIndexRun(trx, fingerprint, patientId)
    return done
  }

  if (!run.finished_at) {
    walk: for (;;) {
      const batch = await listPatientsAfter(ctx.db, after, PATIENTS_PER_PAGE)
      if (batch.length === 0) break
      for (const patientId of batch) {
        if (signal?.aborted) {
          finished = false
          break walk
        }
        const before = conflicts.length
        rows += await auditedTransaction(
          ctx,
          { actorUserId: admin.userIdBytes, action: 'search.reindex', patientId },
          (trx) => indexPatient(trx, patientId),
          (n) => ({ detail: `rows=${n} conflicts=${conflicts.length - before}` }),
        )
        after = patientId
        patients++
        onProgress?.({ patients, total })
      }
    }
    if (finished) await finishIndexRun(ctx.db, fingerprint)
  }
  return {
    patients,
    rows,
    finished,
    remaining: finished ? 0 : await countPatientsAfter(ctx.db, after),
    conflicts,
  }
}
