import { randomBytes } from 'node:crypto'
/**
 * One export in its own process, for the memory scenario (memory.ts forks it,
 * once per size and kind, and reads the peak RSS it reports). It streams to a
 * file with keyset pagination, honouring the stream's backpressure:
 * - `audit`: the audit report API, `auditReport(db, { actorUserId, limit, after })`;
 * - `chart`: every patient the user holds a grant for, patient by patient (keyset
 *   on patient id), each patient's records page by page (keyset on created_at, id),
 *   opened in SQL by the repository's envelope builders (openColumns), after the
 *   session's grant check (patientFieldKeys).
 * Not part of the public API; only the bench runs it.
 */
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { performance } from 'node:perf_hooks'
import type { Knex } from 'knex'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { rowIdToString } from '../../src/db/row-id.js'
import {
  auditReport,
  createDb,
  createVault,
  type AuditEntry,
  type DbConfig,
} from '../../src/index.js'
import { decodeColumns, openColumns } from '../../src/repositories/encrypted-fields.js'
import { CLINICAL_RECORDS } from '../../src/schema/chart-tables.js'
import { patientFieldKeys } from '../../src/services/patient-access.js'
import { type Session, unlockedUserOf } from '../../src/services/session.js'
import { selectRows } from '../../src/sql/prepared.js'

const RECORD_COLUMNS = CLINICAL_RECORDS.encryptedFields.map((f) => f.column)

/** The opened envelopes of a record in their declared types. */
function decodeFields(opened: Record<string, Buffer | null>): Record<string, unknown> {
  return Object.fromEntries(
    CLINICAL_RECORDS.encryptedFields.map((f) => {
      const bytes = opened[f.column] ?? null
      return [f.name, bytes === null ? null : f.def.decode(bytes)]
    }),
  )
}

export interface ExportRequest {
  readonly kind: 'audit' | 'chart'
  readonly config: DbConfig
  readonly auditKey: string
  readonly recoveryPublicKey: string
  /** chart: who exports (holds the grants). */
  readonly username: string
  readonly password: string
  /** audit: whose rows are exported (a UUID string, as the API takes ids). */
  readonly actorUserId: string
  readonly pageSize: number
  readonly outFile: string
}

export interface ExportResult {
  readonly rows: number
  readonly bytes: number
  readonly ms: number
  /** RSS after start-up and login, before the first page. */
  readonly startRssMB: number
  /** process.resourceUsage().maxRSS at the end. */
  readonly peakRssMB: number
  /** V8 heap in use after a full GC at the end: what the export still holds. */
  readonly liveHeapMB: number
}

/** Writes one page of NDJSON lines (one write per page, waiting for drain when full). */
type Sink = (lines: string[]) => Promise<void>

async function exportAudit(db: Knex, req: ExportRequest, sink: Sink): Promise<number> {
  const actorUserId = req.actorUserId
  let rows = 0
  let after: AuditEntry | undefined
  for (;;) {
    const page = await auditReport(db, {
      actorUserId,
      limit: req.pageSize,
      ...(after ? { after } : {}),
    })
    if (page.length === 0) return rows
    await sink(
      page.map((e) =>
        JSON.stringify({
          seq: e.seq,
          occurredAt: e.occurredAt.toISOString(),
          actor: e.actorUserId,
          action: e.action,
          patient: e.patientId,
          target: e.targetUserId,
          outcome: e.outcome,
          reason: e.reason,
          detail: e.detail,
        }),
      ),
    )
    rows += page.length
    after = page.at(-1)
  }
}

async function exportCharts(
  db: Knex,
  session: Session,
  pageSize: number,
  sink: Sink,
): Promise<number> {
  const user = unlockedUserOf(session, 'session')
  let rows = 0
  let afterPatient: Buffer = Buffer.alloc(16)
  for (;;) {
    const patients = await selectRows<{ patient_id: Buffer }>(
      db,
      db('patient_key_grants')
        .distinct('patient_id')
        .where('user_id', user.userIdBytes)
        .andWhere('patient_id', '>', afterPatient)
        .orderBy('patient_id')
        .limit(100),
      'export: patients',
    )
    if (patients.length === 0) return rows
    for (const { patient_id: pid } of patients) {
      const keys = await patientFieldKeys(db, user, pid)
      let after: { created_at: Date; id: Buffer } | undefined
      for (;;) {
        const query = db('clinical_records as r')
          .select('r.id', 'r.kind', 'r.created_at')
          .select(openColumns(db, 'clinical_records', 'r', RECORD_COLUMNS, keys))
          .where('r.patient_id', pid)
        if (after)
          query.andWhereRaw('(r.created_at, r.id) > (?, ?)', [after.created_at, after.id])
        query.orderBy([{ column: 'r.created_at' }, { column: 'r.id' }]).limit(pageSize)
        const page = await selectRows<
          Record<string, unknown> & { id: Buffer; kind: string; created_at: Date }
        >(db, query, 'export: records')
        if (page.length === 0) break
        await sink(
          page.map((row) =>
            JSON.stringify({
              id: rowIdToString(row.id),
              patient: rowIdToString(pid),
              kind: row.kind,
              ...decodeFields(decodeColumns('clinical_records', row, RECORD_COLUMNS)),
            }),
          ),
        )
        rows += page.length
        const last = page.at(-1)!
        after = { created_at: last.created_at, id: last.id }
      }
      // Done with this patient: drop its subkeys now rather than at the cache's TTL,
      // so an export of many patients holds one patient's keys at a time.
      user.keyCache.clear()
    }
    afterPatient = patients.at(-1)!.patient_id
  }
}

async function run(req: ExportRequest): Promise<ExportResult> {
  const db = createDb({ ...req.config, poolMax: 2 })
  const out = createWriteStream(req.outFile)
  let bytes = 0
  const sink: Sink = async (lines) => {
    const chunk = lines.length === 0 ? '' : `${lines.join('\n')}\n`
    bytes += Buffer.byteLength(chunk)
    if (!out.write(chunk)) await once(out, 'drain')
  }
  try {
    const vault = createVault({
      db,
      recoveryPublicKey: Buffer.from(req.recoveryPublicKey, 'base64'),
      auditKey: Buffer.from(req.auditKey, 'base64'),
      // The child reads and exports only: no row is indexed under this key.
      searchKey: randomBytes(32),
      kdfPolicy: TEST_KDF_POLICY,
    })
    // The audit report needs no session (the caller is an auditor with the pool).
    const session =
      req.kind === 'chart' ? await vault.login(req.username, req.password) : undefined
    const startRssMB = process.memoryUsage().rss / 2 ** 20
    const started = performance.now()
    const rows = session
      ? await exportCharts(db, session, req.pageSize, sink)
      : await exportAudit(db, req, sink)
    out.end()
    await once(out, 'finish')
    session?.close()
    const peakRssMB = process.resourceUsage().maxRSS / 1024
    ;(globalThis as { gc?: () => void }).gc?.()
    return {
      rows,
      bytes,
      ms: performance.now() - started,
      startRssMB,
      peakRssMB,
      liveHeapMB: process.memoryUsage().heapUsed / 2 ** 20,
    }
  } finally {
    out.destroy()
    await db.destroy()
  }
}

process.once('message', (req: ExportRequest) => {
  run(req).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: unknown) =>
      process.send!({ ok: false, error: String((err as Error)?.stack ?? err) }, () =>
        process.exit(1),
      ),
  )
})
