import { performance } from 'node:perf_hooks'
import { deleteChartState } from '../../src/repositories/chart-state.repository.js'
import { lockPatientKeyVersion } from '../../src/repositories/patient-key.repository.js'
import { chartTables, readChartRows } from '../../src/services/chart-state.service.js'
import { tableRegistry } from '../../src/services/table-registry.js'
import { inTransaction } from '../../src/services/transaction.js'
import { executeWrite } from '../../src/sql/prepared.js'
import type { BenchDb } from './database.js'
import {
  benchSession,
  seedAuditRows,
  seedPatients,
  seedUserOf,
  type SeededPatient,
} from './fixtures.js'
import {
  compare,
  fmt,
  interleave,
  interleaveSteps,
  profileStatements,
  shares,
  timed,
  type SteppedVariant,
  type Variant,
} from './harness.js'
import type { Scenario } from './scenario.js'

/** Deletes the chart states of `patients`, as in a database from before chart states. */
async function forgetChartStates(b: BenchDb, patients: readonly SeededPatient[]) {
  for (let at = 0; at < patients.length; at += 500) {
    await executeWrite(
      b.db,
      b
        .db('emr_vault_chart_states')
        .delete()
        .whereIn(
          'patient_id',
          patients.slice(at, at + 500).map((p) => p.idBytes),
        ),
      'bench forget chart states',
    )
  }
}

/**
 * Scenario chart-baseline: `vault.recordChartStates`, the one-off job after
 * upgrading a database made before chart states, over seeded patients whose
 * states are deleted first (a share of them per round); and what a chart read
 * costs a patient not yet recorded, whose read looks for a state in the audit trail.
 */
export const chartBaselineScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b = await bench.fresh()
  const { session: admin } = await benchSession(b, 'bench-baseline-admin', ['admin'])
  const { session: owner } = await benchSession(b, 'bench-baseline-owner')
  const per = shares(opts.baselinePatients, opts.rounds)
  const warmupShare = Math.min(100, per[0]!)
  const total = opts.baselinePatients + opts.warmup * warmupShare
  const records = opts.baselineRecordsPerPatient
  log(`seeding ${total} patients × ${records} records (each with its chart state)`)
  const patients = await seedPatients(b, {
    owner: seedUserOf(owner),
    count: total,
    recordsPerPatient: records,
    log,
  })
  const slices: SeededPatient[][] = []
  let at = 0
  for (let round = 0; round < opts.warmup + opts.rounds; round++) {
    const n = round < opts.warmup ? warmupShare : per[round - opts.warmup]!
    slices.push(patients.slice(at, at + n))
    at += n
  }
  const declarations = [...tableRegistry(undefined).values()]
  // Audit rows of the patient with a long history, and chart reads per variant
  // per round, in the comparison of reads of patients not yet recorded.
  const HISTORY = opts.quick ? 1000 : 10_000
  const HISTORY_READS = opts.reads

  const variants: Variant[] = [
    {
      id: 'walk',
      label: "the job's reads alone: lock patient, catalog, envelope headers (baseline)",
      run: (round) =>
        timed(async () => {
          for (const p of slices[round]!) {
            await inTransaction(b.db, async (trx) => {
              await lockPatientKeyVersion(trx, p.idBytes)
              const tables = await chartTables(trx, declarations)
              await readChartRows(trx, tables, p.idBytes, true)
            })
          }
        }),
    },
    {
      id: 'record',
      label: 'emr-vault vault.recordChartStates (one audited transaction per patient)',
      run: async (round) => {
        const slice = slices[round]!
        await forgetChartStates(b, slice)
        return timed(async () => {
          const result = await b.vault.recordChartStates(admin)
          if (result.recorded !== slice.length || result.refused.length > 0)
            throw new Error(
              `recorded ${result.recorded} of ${slice.length}, refused ${result.refused.length}`,
            )
        })
      },
    },
  ]
  log(
    `recordChartStates: ${opts.baselinePatients} patients over ${opts.rounds} rounds (${per.join('/')})`,
  )
  const samples = await interleave({
    variants,
    rounds: opts.rounds,
    warmup: opts.warmup,
    units: 1,
    log,
  })
  // Per patient: each round's ms over its share of patients (ms/patient = s/1,000 patients).
  for (const v of variants) {
    samples.set(
      v.id,
      samples.get(v.id)!.map((ms, i) => ms / slices[opts.warmup + i]!.length),
    )
  }

  // One more run of the job, profiled: where a patient's recording spends its time.
  // Patients of their own: one the job recorded has a chart tag in the audit
  // trail, so with its state deleted it is refused, not recorded.
  const profiled = await seedPatients(b, {
    owner: seedUserOf(owner),
    count: Math.min(500, opts.baselinePatients),
    recordsPerPatient: records,
  })
  await forgetChartStates(b, profiled)
  const profile = await profileStatements(async () => {
    const result = await b.vault.recordChartStates(admin)
    if (result.recorded !== profiled.length || result.refused.length > 0)
      throw new Error(`profiled run recorded ${result.recorded} of ${profiled.length}`)
  })
  const profileTotal = profile.reduce((sum, p) => sum + p.ms, 0)
  const perPatient = (ms: number) => fmt(ms / profiled.length)

  // A chart read of a patient not yet recorded looks for a state in the audit
  // trail: the patient's audit rows, newest first, until one with a chart tag.
  const [recorded, fresh, historied] = await seedPatients(b, {
    owner: seedUserOf(owner),
    count: 3,
    recordsPerPatient: 50,
  })
  await deleteChartState(b.db, fresh!.idBytes)
  await deleteChartState(b.db, historied!.idBytes)
  log(`seeding ${HISTORY} audit rows of one patient`)
  await seedAuditRows(b, seedUserOf(owner).idBytes, HISTORY, 1000, historied!.idBytes)
  const read = (
    id: string,
    label: string,
    patient: SeededPatient,
    state: 'verified' | 'not_recorded',
  ): SteppedVariant => ({
    id,
    label,
    step: async () => {
      const chart = await owner.readChart(patient.id)
      if (chart.state !== state || chart.records.length !== 50)
        throw new Error(`chart ${chart.state}, ${chart.records.length} records`)
    },
  })
  const reads = [
    read(
      'recorded',
      'Session.readChart, patient with a chart state (baseline)',
      recorded!,
      'verified',
    ),
    read(
      'unrecorded',
      'Session.readChart, patient without a state, no audit history',
      fresh!,
      'not_recorded',
    ),
    read(
      'unrecorded-history',
      `Session.readChart, patient without a state, ${HISTORY.toLocaleString('en-GB')} audit rows`,
      historied!,
      'not_recorded',
    ),
  ]
  log(
    `readChart of patients without a state: ${HISTORY_READS} reads per variant per round`,
  )
  const readSamples = await interleaveSteps({
    variants: reads,
    rounds: opts.rounds,
    warmup: opts.warmup,
    steps: () => HISTORY_READS,
    units: () => HISTORY_READS,
    log,
  })
  admin.close()
  owner.close()
  return {
    id: 'chart-baseline',
    title: `Chart baseline: vault.recordChartStates over ${opts.baselinePatients.toLocaleString('en-GB')} patients (${records} records each), and reads of patients not yet recorded`,
    kdf: 'TEST_KDF_POLICY',
    comparisons: [
      compare({
        id: 'chart-baseline.record',
        title: `record the chart states of ${opts.baselinePatients.toLocaleString('en-GB')} patients (${per.map((n) => n.toLocaleString('en-GB')).join('/')} per round), ${records} records each`,
        unit: 's/1,000 patients',
        baseline: 'walk',
        variants,
        samples,
        notes: [
          'Each round deletes the states of its share of the seeded patients (not timed); the job then walks every patient (pages of 100 without a state) and records each in its own transaction: ' +
            'lock the patient row, the state row, the last chart tag in the audit trail, the catalog, the envelope headers FOR UPDATE, the keyed summary, INSERT, audit row, COMMIT.',
          `A profiled extra run over ${profiled.length} patients: ${perPatient(profileTotal)} ms per patient: ` +
            profile.map((p) => `${p.op} ${perPatient(p.ms)}`).join(', ') +
            ". Each is the time from a statement to the next one; COMMIT is in the last statement's time.",
          "The seeded patients have no audit rows; a real database from before chart states has each patient's history, which the audit-trail lookup reads (below).",
        ],
      }),
      compare({
        id: 'chart-baseline.unrecorded-read',
        title: `read a chart (50 records) of a patient without a chart state, ${HISTORY_READS} reads per variant per round`,
        unit: 'ms/chart',
        baseline: 'recorded',
        variants: reads,
        samples: readSamples,
        notes: [
          "Without a state readChart checks nothing, and reads the patient's audit rows newest first (index on patient_id, seq) for a chart tag: " +
            'a patient not yet recorded has none, so all of them. Each read adds one more.',
        ],
      }),
    ],
    notes: [],
    seconds: (performance.now() - started) / 1000,
  }
}
