import { performance } from 'node:perf_hooks'
import { newRowId, rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import { insertDeclaredRow } from '../../src/repositories/declared-rows.repository.js'
import { CLINICAL_RECORDS } from '../../src/schema/chart-tables.js'
import { encodeRow } from '../../src/schema/row-codec.js'
import type { NewClinicalRecord } from '../../src/services/domain.js'
import { patientFieldKeys } from '../../src/services/patient-access.js'
import { inTransaction } from '../../src/services/transaction.js'
import { selectRows } from '../../src/sql/prepared.js'
import { newAppKey } from './app-gcm.js'
import type { BenchDb } from './database.js'
import {
  APP_RECORDS,
  appRow,
  benchSession,
  createComparisonTables,
  insertRows,
  PLAIN_RECORDS,
  plainRow,
  sampleDemographics,
  sampleRecord,
  vaultRow,
} from './fixtures.js'
import { compare, fmt, interleaveSteps, type SteppedVariant } from './harness.js'
import type { Scenario } from './scenario.js'

/** Average stored bytes of a record's four value columns in `table`. */
async function storedBytes(
  b: BenchDb,
  table: string,
  columns: string[],
): Promise<number> {
  const sum = columns.map((c) => `COALESCE(LENGTH(\`${c}\`), 0)`).join(' + ')
  const rows = await selectRows<{ n: string | number | null }>(
    b.db,
    b.db.raw(`SELECT AVG(${sum}) AS n FROM \`${table}\``),
    'bench stored bytes',
  )
  return Number(rows[0]?.n ?? NaN)
}

/**
 * Scenario 1: inserting clinical records (1 KB note + three short fields), one
 * record per statement and in multi-row batches.
 */
export const writeScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b = await bench.fresh()
  await createComparisonTables(b.db)
  const { session, user } = await benchSession(b, 'bench-writer')
  const patientId = await session.createPatient(sampleDemographics(0))
  const pid = rowIdFromString(patientId, 'patientId')
  const author = user.userIdBytes
  const recordRow = (r: NewClinicalRecord) => ({
    ...r,
    kind: 'note',
    authorId: rowIdToString(author),
  })
  // The session already holds the patient's subkeys (createPatient caches them).
  const keys = await patientFieldKeys(b.db, user, pid)
  const appKey = newAppKey()
  const n = opts.records
  let counter = 0
  const batchOf = (): NewClinicalRecord[] =>
    Array.from({ length: n }, () => sampleRecord(counter++))

  /**
   * A variant that inserts `n` fresh sample records per round (made outside the
   * timing), `per` records per step: one INSERT statement per step.
   */
  const variant = (
    id: string,
    label: string,
    per: number,
    insert: (records: NewClinicalRecord[]) => Promise<unknown>,
  ): SteppedVariant => {
    let records: NewClinicalRecord[] = []
    return {
      id,
      label,
      prepare: () => {
        records = batchOf()
      },
      step: (_round, i) => insert(records.slice(i * per, (i + 1) * per)),
    }
  }
  const one = (
    id: string,
    label: string,
    insert: (record: NewClinicalRecord) => Promise<unknown>,
  ) => variant(id, label, 1, (records) => insert(records[0]!))

  const single: SteppedVariant[] = [
    one('plaintext', 'plaintext INSERT (baseline)', (r) =>
      insertRows(b.db, PLAIN_RECORDS, [plainRow(newRowId(), pid, author, r)]),
    ),
    one('app-gcm', 'app-side AES-256-GCM (cloak format)', (r) =>
      insertRows(b.db, APP_RECORDS, [appRow(newRowId(), pid, author, r, appKey)]),
    ),
    one('envelope', 'emr-vault SQL envelope (repository insert)', (r) => {
      const { plain, encrypted } = encodeRow(CLINICAL_RECORDS, recordRow(r), false)
      return insertDeclaredRow(
        b.db,
        CLINICAL_RECORDS,
        { id: newRowId(), patientId: pid },
        plain,
        encrypted,
        keys,
      )
    }),
    one(
      'no-audit',
      'emr-vault: grant check + envelope, in a transaction, no audit',
      (r) => {
        const { plain, encrypted } = encodeRow(CLINICAL_RECORDS, recordRow(r), false)
        return inTransaction(b.db, async (trx) => {
          const k = await patientFieldKeys(trx, user, pid, true)
          await insertDeclaredRow(
            trx,
            CLINICAL_RECORDS,
            { id: newRowId(), patientId: pid },
            plain,
            encrypted,
            k,
          )
        })
      },
    ),
    one('session', 'emr-vault Session.addRecord (grant check + audit)', (r) =>
      session.addRecord(patientId, r),
    ),
  ]
  log(`write, one record per statement: ${n} records per variant per round`)
  const singleSamples = await interleaveSteps({
    variants: single,
    rounds: opts.rounds,
    warmup: opts.warmup,
    steps: () => n,
    units: () => n,
    log,
  })

  const batch = Math.min(opts.batch, n)
  const batched: SteppedVariant[] = [
    variant('plaintext', 'plaintext multi-row INSERT (baseline)', batch, (records) =>
      insertRows(
        b.db,
        PLAIN_RECORDS,
        records.map((r) => plainRow(newRowId(), pid, author, r)),
        batch,
      ),
    ),
    variant('app-gcm', 'app-side AES-256-GCM, multi-row INSERT', batch, (records) =>
      insertRows(
        b.db,
        APP_RECORDS,
        records.map((r) => appRow(newRowId(), pid, author, r, appKey)),
        batch,
      ),
    ),
    variant('envelope', 'emr-vault SQL envelope, multi-row INSERT', batch, (records) =>
      insertRows(
        b.db,
        'clinical_records',
        records.map((r) => vaultRow(b.db, newRowId(), pid, author, r, keys)),
        batch,
      ),
    ),
  ]
  log(`write, batched: ${batch} rows per INSERT`)
  const batchedSamples = await interleaveSteps({
    variants: batched,
    rounds: opts.rounds,
    warmup: opts.warmup,
    steps: () => Math.ceil(n / batch),
    units: () => n,
    log,
  })

  const [plainBytes, appBytes, vaultBytes] = await Promise.all([
    storedBytes(b, PLAIN_RECORDS, ['occurred_on', 'title', 'code', 'body']),
    storedBytes(b, APP_RECORDS, ['occurred_on_ct', 'title_ct', 'code_ct', 'body_ct']),
    storedBytes(b, 'clinical_records', [
      'occurred_on_enc',
      'title_enc',
      'code_enc',
      'body_enc',
    ]),
  ])
  session.close()
  return {
    id: 'write',
    title: `Write: insert clinical records (1 KB note + 3 short fields), ${n} per variant per round`,
    kdf: 'TEST_KDF_POLICY',
    comparisons: [
      compare({
        id: 'write.single',
        title: 'one record per INSERT (autocommit unless stated)',
        unit: 'ms/record',
        baseline: 'plaintext',
        variants: single,
        samples: singleSamples,
        notes: [
          'Session.addRecord = grant check (SELECT … FOR SHARE) + INSERT + audit append (lock head, INSERT, UPDATE) + COMMIT.',
        ],
      }),
      compare({
        id: 'write.batched',
        title: `${batch} records per multi-row INSERT`,
        unit: 'ms/record',
        baseline: 'plaintext',
        variants: batched,
        samples: batchedSamples,
        notes: [
          'The services have no batch insert; the emr-vault row uses the same sealColumns builders as the repository.',
        ],
      }),
    ],
    notes: [
      `Stored bytes per record (4 value columns): plaintext ${fmt(plainBytes)}, ` +
        `app-side GCM ${fmt(appBytes)} (${fmt(appBytes / plainBytes)}×), ` +
        `emr-vault envelopes ${fmt(vaultBytes)} (${fmt(vaultBytes / plainBytes)}×).`,
    ],
    seconds: (performance.now() - started) / 1000,
  }
}
