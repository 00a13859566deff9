import { performance } from 'node:perf_hooks'
import type { Knex } from 'knex'
import { newRowId, rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import { deleteChartState } from '../../src/repositories/chart-state.repository.js'
import {
  insertDeclaredRow,
  updateDeclaredRow,
} from '../../src/repositories/declared-rows.repository.js'
import { CLINICAL_RECORDS } from '../../src/schema/chart-tables.js'
import { encodeRow } from '../../src/schema/row-codec.js'
import { appendAudit, type AuditAction } from '../../src/services/audit.service.js'
import type { NewClinicalRecord } from '../../src/services/domain.js'
import { patientFieldKeys } from '../../src/services/patient-access.js'
import { inTransaction } from '../../src/services/transaction.js'
import { executeWrite, selectRows } from '../../src/sql/prepared.js'
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
import {
  compare,
  fmt,
  interleaveSteps,
  profileStatements,
  type SteppedVariant,
} from './harness.js'
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

/** The variants of the chart-state comparisons, the one without it first (their baseline). */
const CHART_VARIANTS = ['no-chart', 'unrecorded', 'session']

/**
 * Scenario 1: inserting clinical records (1 KB note + three short fields), one
 * record per statement and in multi-row batches; updating one, and what the
 * chart state adds to each Session write.
 */
export const writeScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b = await bench.fresh()
  await createComparisonTables(b.db)
  const { session, user } = await benchSession(b, 'bench-writer')
  const patientId = await session.createPatient(sampleDemographics(0))
  const pid = rowIdFromString(patientId, 'patientId')
  // A second patient without a chart state, as in a database from before chart
  // states (until `emr-vault chart baseline`): the writes that skip the chart
  // state go to this one.
  const unrecordedId = await session.createPatient(sampleDemographics(1))
  const upid = rowIdFromString(unrecordedId, 'patientId')
  await deleteChartState(b.db, upid)
  const author = user.userIdBytes
  const recordRow = (r: NewClinicalRecord) => ({
    ...r,
    kind: 'note',
    authorId: rowIdToString(author),
  })
  // The session already holds the patients' subkeys (createPatient caches them).
  const keys = await patientFieldKeys(b.db, user, pid)
  const unrecordedKeys = await patientFieldKeys(b.db, user, upid)
  /** The audit row a Session write appends, without the chart tag (no state moved). */
  const audit = (trx: Knex.Transaction, action: 'create' | 'update', id: Buffer) =>
    appendAudit(trx, b.auditKey, {
      actorUserId: user.userIdBytes,
      action: CLINICAL_RECORDS.auditActions[action] as AuditAction,
      patientId: upid,
      outcome: 'success',
      detail: `${CLINICAL_RECORDS.name} ${rowIdToString(id)}`,
    })
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
    // insertRow (services/declared-rows.service.ts) without trackChartChange: the
    // statements Session.addRecord sent before chart states.
    one(
      'no-chart',
      'emr-vault: Session.addRecord without the chart-state step (same statements otherwise)',
      (r) => {
        const { plain, encrypted } = encodeRow(CLINICAL_RECORDS, recordRow(r), false)
        const id = newRowId()
        return inTransaction(b.db, async (trx) => {
          const k = await patientFieldKeys(trx, user, upid, true)
          await insertDeclaredRow(
            trx,
            CLINICAL_RECORDS,
            { id, patientId: upid },
            plain,
            encrypted,
            k,
          )
          await audit(trx, 'create', id)
        })
      },
    ),
    one(
      'unrecorded',
      'emr-vault Session.addRecord, patient without a chart state (not recorded)',
      (r) => session.addRecord(unrecordedId, r),
    ),
    one(
      'session',
      'emr-vault Session.addRecord (grant check + chart state + audit)',
      (r) => session.addRecord(patientId, r),
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

  // Updates: each variant amends the title and the note of the records of its
  // own pool, one record per step, in turn.
  const poolSize = Math.min(n, 50)
  const plainPool = Array.from({ length: poolSize }, () => newRowId())
  await insertRows(
    b.db,
    PLAIN_RECORDS,
    plainPool.map((id) => plainRow(id, pid, author, sampleRecord(counter++))),
  )
  const addPool = async (patient: string): Promise<string[]> => {
    const ids: string[] = []
    for (let k = 0; k < poolSize; k++)
      ids.push(await session.addRecord(patient, sampleRecord(counter++)))
    return ids
  }
  const envelopePool = await addPool(unrecordedId)
  const noChartPool = await addPool(unrecordedId)
  const unrecordedPool = await addPool(unrecordedId)
  const sessionPool = await addPool(patientId)
  type Changes = { title: string; body: string }
  const amend = (
    id: string,
    label: string,
    pool: readonly string[],
    update: (recordId: string, changes: Changes) => Promise<unknown>,
  ): SteppedVariant => {
    let changes: Changes[] = []
    return {
      id,
      label,
      prepare: () => {
        changes = batchOf().map((r) => ({ title: `${r.title}, amended`, body: r.body! }))
      },
      step: (_round, i) => update(pool[i % pool.length]!, changes[i]!),
    }
  }
  const found = (ok: boolean) => {
    if (!ok) throw new Error('the record to update is missing')
  }
  const updates: SteppedVariant[] = [
    amend(
      'plaintext',
      'plaintext UPDATE (baseline)',
      plainPool.map((id) => rowIdToString(id)),
      async (recordId, c) =>
        found(
          (
            await executeWrite(
              b.db,
              b
                .db(PLAIN_RECORDS)
                .update({ ...c, updated_at: b.db.raw('CURRENT_TIMESTAMP(3)') })
                .where({ id: rowIdFromString(recordId, 'id'), patient_id: pid }),
              'bench update plain',
            )
          ).affectedRows === 1,
        ),
    ),
    amend(
      'envelope',
      'emr-vault SQL envelope (repository update)',
      envelopePool,
      async (recordId, c) => {
        const { plain, encrypted } = encodeRow(CLINICAL_RECORDS, c, true)
        const written = await updateDeclaredRow(
          b.db,
          CLINICAL_RECORDS,
          upid,
          rowIdFromString(recordId, 'id'),
          plain,
          encrypted,
          unrecordedKeys,
        )
        found(written.found)
      },
    ),
    // updateRow (services/declared-rows.service.ts) without updateTracked's reads
    // and trackChartChange: the statements Session.updateRecord sent before chart states.
    amend(
      'no-chart',
      'emr-vault: Session.updateRecord without the chart-state step (same statements otherwise)',
      noChartPool,
      (recordId, c) => {
        const { plain, encrypted } = encodeRow(CLINICAL_RECORDS, c, true)
        const id = rowIdFromString(recordId, 'id')
        return inTransaction(b.db, async (trx) => {
          const k = await patientFieldKeys(trx, user, upid, true)
          const written = await updateDeclaredRow(
            trx,
            CLINICAL_RECORDS,
            upid,
            id,
            plain,
            encrypted,
            k,
          )
          found(written.found)
          await audit(trx, 'update', id)
        })
      },
    ),
    amend(
      'unrecorded',
      'emr-vault Session.updateRecord, patient without a chart state (not recorded)',
      unrecordedPool,
      (recordId, c) => session.updateRecord(unrecordedId, recordId, c),
    ),
    amend(
      'session',
      'emr-vault Session.updateRecord (grant check + chart state + audit)',
      sessionPool,
      (recordId, c) => session.updateRecord(patientId, recordId, c),
    ),
  ]
  log(`update, one record per statement: ${n} updates per variant per round`)
  const updateSamples = await interleaveSteps({
    variants: updates,
    rounds: opts.rounds,
    warmup: opts.warmup,
    steps: () => n,
    units: () => n,
    log,
  })

  // One more run of each Session write, profiled: where its time goes, by statement.
  const profiled = Math.min(n, 100)
  const profileOf = async (work: (k: number) => Promise<unknown>): Promise<string> => {
    const profile = await profileStatements(async () => {
      for (let k = 0; k < profiled; k++) await work(k)
    })
    const total = profile.reduce((sum, p) => sum + p.ms, 0)
    return (
      `${fmt(total / profiled)} ms per write: ` +
      profile.map((p) => `${p.op} ${fmt(p.ms / profiled)}`).join(', ')
    )
  }
  const addProfile = await profileOf(() =>
    session.addRecord(patientId, sampleRecord(counter++)),
  )
  const updateProfile = await profileOf((k) => {
    const r = sampleRecord(counter++)
    return session.updateRecord(patientId, sessionPool[k % poolSize]!, {
      title: `${r.title}, amended`,
      body: r.body!,
    })
  })
  const profileNote = (what: string, line: string) =>
    `A profiled extra run of ${profiled} ${what} (patient with a chart state): ${line}. ` +
    'Each is the time from a statement to the next one (the statement, then the Node work after it); ' +
    '"(start)" is BEGIN and the work before the first statement, and COMMIT is in the last statement\'s time.'
  const chartNotes = [
    '"without the chart-state step" sends what the Session sent before chart states, to a second patient that has no chart state; ' +
      '"without a chart state" is the Session call on that patient: the state row is looked for (SELECT … FOR UPDATE, none) and nothing else is done.',
  ]

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
    title: `Write: insert and update clinical records (1 KB note + 3 short fields), ${n} per variant per round`,
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
          'Session.addRecord = grant check (SELECT … FOR SHARE) + INSERT + chart state (SELECT … FOR UPDATE, UPDATE) + audit append (lock head, INSERT, UPDATE) + COMMIT.',
        ],
      }),
      compare({
        id: 'write.chart',
        title:
          'one record per INSERT, the chart state alone (the rounds above, against the same write without it)',
        unit: 'ms/record',
        baseline: 'no-chart',
        variants: single.filter((v) => CHART_VARIANTS.includes(v.id)),
        samples: singleSamples,
        notes: [...chartNotes, profileNote('Session.addRecord', addProfile)],
      }),
      compare({
        id: 'write.update',
        title: 'update one record (title + 1 KB note), one per UPDATE',
        unit: 'ms/record',
        baseline: 'plaintext',
        variants: updates,
        samples: updateSamples,
        notes: [
          "Session.updateRecord = grant check (SELECT … FOR SHARE) + the row's IVs (SELECT … FOR UPDATE) + UPDATE + chart state (SELECT … FOR UPDATE, UPDATE) + audit append + COMMIT.",
        ],
      }),
      compare({
        id: 'write.update-chart',
        title:
          'update one record, the chart state alone (the rounds above, against the same update without it)',
        unit: 'ms/record',
        baseline: 'no-chart',
        variants: updates.filter((v) => CHART_VARIANTS.includes(v.id)),
        samples: updateSamples,
        notes: [...chartNotes, profileNote('Session.updateRecord', updateProfile)],
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
