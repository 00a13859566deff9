import { performance } from 'node:perf_hooks'
import { chartStateKey, summaryOf } from '../../src/crypto/chart-state.js'
import { wipe } from '../../src/crypto/bytes.js'
import { selectDeclaredRows } from '../../src/repositories/declared-rows.repository.js'
import { CLINICAL_RECORDS, PATIENTS } from '../../src/schema/chart-tables.js'
import type { OpenedRow } from '../../src/schema/row-codec.js'
import { appendAudit } from '../../src/services/audit.service.js'
import {
  chartTables,
  checkChart,
  lockChartStateForCheck,
  readChartRows,
} from '../../src/services/chart-state.service.js'
import { decodeDeclaredRow } from '../../src/services/declared-rows.service.js'
import { patientFieldKeys } from '../../src/services/patient-access.js'
import { patientOf } from '../../src/services/patient.service.js'
import { tableRegistry } from '../../src/services/table-registry.js'
import { inTransaction } from '../../src/services/transaction.js'
import { selectRows } from '../../src/sql/prepared.js'
import { appDecrypt, appDecryptNullable, newAppKey, type AppKey } from './app-gcm.js'
import {
  APP_RECORDS,
  benchSession,
  createComparisonTables,
  PLAIN_RECORDS,
  seedPatients,
  seedUserOf,
} from './fixtures.js'
import {
  compare,
  fmt,
  interleaveSteps,
  median,
  profileStatements,
  type SteppedVariant,
} from './harness.js'
import type { Scenario } from './scenario.js'

/** A chart entry as the application gets it: text fields, whichever store it came from. */
interface ChartEntry {
  id: Buffer
  kind: string
  occurredOn: string
  title: string
  code: string | null
  body: string | null
}

const META = [
  'r.id',
  'r.patient_id',
  'r.kind',
  'r.author_id',
  'r.created_at',
  'r.updated_at',
]

function fromOpened(row: OpenedRow): ChartEntry {
  const f = decodeDeclaredRow(CLINICAL_RECORDS, row)
  return {
    id: row.id,
    kind: f.kind,
    occurredOn: f.occurredOn,
    title: f.title,
    code: f.code,
    body: f.body,
  }
}

/**
 * Scenario 2: read one patient's chart (50 records) from a warm session: the
 * patient's subkeys are already cached, as after the first read of a visit.
 */
export const readScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b = await bench.fresh()
  await createComparisonTables(b.db)
  const { session, user } = await benchSession(b, 'bench-reader')
  const appKeys = new Map<string, AppKey>()
  const appKeyOf = (pid: Buffer): AppKey => {
    const hex = pid.toString('hex')
    let key = appKeys.get(hex)
    if (!key) appKeys.set(hex, (key = newAppKey()))
    return key
  }
  // The chart exists in all three stores, for the same patient; other patients
  // around it so the index is not trivially small.
  const [patient] = await seedPatients(b, {
    owner: seedUserOf(session),
    count: 1,
    recordsPerPatient: opts.chart,
    plain: true,
    app: appKeyOf,
  })
  await seedPatients(b, {
    owner: seedUserOf(session),
    count: 20,
    recordsPerPatient: opts.chart,
    plain: true,
    app: appKeyOf,
  })
  const pid = patient!.idBytes
  const appKey = appKeyOf(pid)
  // Warm: the grant is opened once and its subkeys cached in the session.
  const warm = await session.listRecords(patient!.id)
  if (warm.length !== opts.chart) throw new Error(`chart has ${warm.length} records`)
  const keys = await patientFieldKeys(b.db, user, pid)
  const first = await session.readChart(patient!.id)
  if (first.state !== 'verified') throw new Error(`chart state ${first.state}`)
  // The vault's declarations: the bench declares no tables of its own.
  const declarations = [...tableRegistry(undefined).values()]

  const check = (chart: unknown[]) => {
    if (chart.length !== opts.chart) throw new Error(`read ${chart.length} records`)
  }
  const variant = (
    id: string,
    label: string,
    read: () => Promise<unknown[]>,
  ): SteppedVariant => ({
    id,
    label,
    step: async () => check(await read()),
  })

  const variants: SteppedVariant[] = [
    variant('plaintext', 'plaintext SELECT (baseline)', async () => {
      const rows = await selectRows<Record<string, unknown>>(
        b.db,
        b
          .db(`${PLAIN_RECORDS} as r`)
          .select([...META, 'r.occurred_on', 'r.title', 'r.code', 'r.body'])
          .where('r.patient_id', pid)
          .orderBy([{ column: 'r.created_at' }, { column: 'r.id' }]),
        'bench read plain',
      )
      return rows.map((r): ChartEntry => ({
        id: r['id'] as Buffer,
        kind: r['kind'] as string,
        occurredOn: r['occurred_on'] as string,
        title: r['title'] as string,
        code: r['code'] as string | null,
        body: r['body'] as string | null,
      }))
    }),
    variant('app-gcm', 'app-side AES-256-GCM: SELECT, decrypt in Node', async () => {
      const rows = await selectRows<Record<string, unknown>>(
        b.db,
        b
          .db(`${APP_RECORDS} as r`)
          .select([...META, 'r.occurred_on_ct', 'r.title_ct', 'r.code_ct', 'r.body_ct'])
          .where('r.patient_id', pid)
          .orderBy([{ column: 'r.created_at' }, { column: 'r.id' }]),
        'bench read app',
      )
      return rows.map((r): ChartEntry => ({
        id: r['id'] as Buffer,
        kind: r['kind'] as string,
        occurredOn: appDecrypt(r['occurred_on_ct'] as string, appKey),
        title: appDecrypt(r['title_ct'] as string, appKey),
        code: appDecryptNullable(r['code_ct'] as string | null, appKey),
        body: appDecryptNullable(r['body_ct'] as string | null, appKey),
      }))
    }),
    variant('envelope', 'emr-vault SQL envelope (repository read)', async () =>
      (await selectDeclaredRows(b.db, CLINICAL_RECORDS, pid, keys)).map(fromOpened),
    ),
    variant('no-audit', 'emr-vault: grant check + envelope, no audit', async () => {
      const k = await patientFieldKeys(b.db, user, pid)
      return (await selectDeclaredRows(b.db, CLINICAL_RECORDS, pid, k)).map(fromOpened)
    }),
    variant('session', 'emr-vault Session.listRecords (grant check + audit)', () =>
      session.listRecords(patient!.id),
    ),
    // readChart (services/chart.service.ts) without its check: the same reads of
    // demographics and records, decoded, and the audit row, in one transaction.
    variant(
      'chart-no-check',
      'emr-vault: Session.readChart without the chart check (+ demographics, audit)',
      () =>
        inTransaction(b.db, async (trx) => {
          const k = await patientFieldKeys(trx, user, pid)
          const [row] = await selectDeclaredRows(trx, PATIENTS, pid, k, { ids: [pid] }, [
            'current_key_version',
          ])
          if (!row) throw new Error('patient row missing')
          const records = (await selectDeclaredRows(trx, CLINICAL_RECORDS, pid, k)).map(
            (r) => decodeDeclaredRow(CLINICAL_RECORDS, r),
          )
          patientOf(row, patient!.id)
          await appendAudit(trx, b.auditKey, {
            actorUserId: user.userIdBytes,
            action: 'chart.read',
            patientId: pid,
            outcome: 'success',
            detail: `${records.length} records, state verified`,
          })
          return records
        }),
    ),
    variant(
      'chart',
      'emr-vault Session.readChart (grant check + chart check + audit)',
      async () => (await session.readChart(patient!.id)).records as unknown[],
    ),
    // The check alone, as readChart makes it, in a read-only transaction of its own.
    {
      id: 'check',
      label: 'the chart check alone: lock state, catalog, envelope headers, MACs',
      step: () =>
        inTransaction(b.db, async (trx) => {
          const state = await lockChartStateForCheck(trx, pid)
          const tables = await chartTables(trx, declarations)
          const check = await checkChart(trx, b.auditKey, pid, tables, state)
          if (!check.recorded || check.findings.length > 0)
            throw new Error('the chart check did not pass')
        }),
    },
  ]
  log(`read: ${opts.reads} reads of a ${opts.chart}-record chart per variant per round`)
  const samples = await interleaveSteps({
    variants,
    rounds: opts.rounds,
    warmup: opts.warmup,
    steps: () => opts.reads,
    units: () => opts.reads,
    log,
  })
  // One more run of readChart, profiled: where its time goes, by statement.
  const profile = await profileStatements(async () => {
    for (let k = 0; k < opts.reads; k++) await session.readChart(patient!.id)
  })
  const profileTotal = profile.reduce((sum, p) => sum + p.ms, 0)
  // The keyed summary of the chart's rows in Node (HKDF, then 3 HMACs per row).
  const chartRows = await readChartRows(b.db, await chartTables(b.db, declarations), pid)
  const summaryMs: number[] = []
  for (let k = 0; k < 200; k++) {
    const start = performance.now()
    const key = chartStateKey(b.auditKey)
    summaryOf(key, pid, chartRows)
    wipe(key)
    summaryMs.push(performance.now() - start)
  }
  session.close()
  return {
    id: 'read',
    title: `Read a chart: one patient's ${opts.chart} records, warm session, ${opts.reads} reads per variant per round`,
    kdf: 'TEST_KDF_POLICY',
    comparisons: [
      compare({
        id: 'read.chart',
        title: `read ${opts.chart} records of one patient`,
        unit: 'ms/chart',
        baseline: 'plaintext',
        variants,
        samples,
        notes: [
          'Session.listRecords appends an audit row (a write and a COMMIT) to every read: HIPAA access logging.',
          'Session.readChart also reads and opens the demographics (one patients row, 7 envelopes), which listRecords does not.',
        ],
      }),
      compare({
        id: 'read.chart-state',
        title: `read ${opts.chart} records of one patient, the chart check alone (the rounds above, against readChart without it)`,
        unit: 'ms/chart',
        baseline: 'chart-no-check',
        variants: variants.filter((v) =>
          ['chart-no-check', 'chart', 'session', 'check'].includes(v.id),
        ),
        samples,
        notes: [
          "readChart's check = the state row FOR SHARE, the catalog of declared tables, the envelope headers (IVs) of every row of the patient " +
            `in each chart table (here ${chartRows.length} rows), and the keyed summary of those rows in Node.`,
          `The summary in Node, measured alone: ${fmt(median(summaryMs))} ms for ${chartRows.length} rows (median of 200).`,
          `A profiled extra run of ${opts.reads} readChart: ${fmt(profileTotal / opts.reads)} ms per read: ` +
            profile.map((p) => `${p.op} ${fmt(p.ms / opts.reads)}`).join(', ') +
            '. Each is the time from a statement to the next one (the statement, then the Node work after it); ' +
            '"(start)" is BEGIN and the work before the first statement, and COMMIT is in the last statement\'s time.',
        ],
      }),
    ],
    notes: [],
    seconds: (performance.now() - started) / 1000,
  }
}
