import { performance } from 'node:perf_hooks'
import type { Knex } from 'knex'
import { rowIdFromString } from '../../src/db/row-id.js'
import { envelopeTablesOf } from '../../src/repositories/envelope-tables.js'
import { CHART_TABLES } from '../../src/schema/chart-tables.js'
import { selectRows } from '../../src/sql/prepared.js'
import { newAppKey, type AppKey } from './app-gcm.js'
import { appRotatePatient } from './app-rotation.js'
import type { BenchDb } from './database.js'
import {
  benchPassword,
  benchSession,
  createComparisonTables,
  insertRows,
  PLAIN_ACL,
  sampleDemographics,
  seedPatients,
  seedUserOf,
  seedUsers,
  VALUES_PER_PATIENT,
  VALUES_PER_RECORD,
} from './fixtures.js'
import {
  compare,
  fmt,
  interleave,
  interleaveSteps,
  profileStatements,
  shares,
  timed,
  type Comparison,
  type SteppedVariant,
  type Variant,
} from './harness.js'
import type { Scenario, ScenarioContext } from './scenario.js'

/** Non-NULL envelope values of the given patients (all patients when omitted). */
async function envelopeValues(db: Knex, patientIds?: Buffer[]): Promise<number> {
  let total = 0
  for (const spec of envelopeTablesOf(CHART_TABLES, [])) {
    const counts = spec.columns.map((c) => `COUNT(\`${c}\`)`).join(' + ')
    const query = db(spec.table).select(db.raw(`${counts} AS n`))
    if (patientIds) query.whereIn(spec.patientColumn, patientIds)
    const rows = await selectRows<{ n: string | number }>(db, query, 'bench count values')
    total += Number(rows[0]?.n ?? 0)
  }
  return total
}

/** Break-glass set up, as a deployment that uses it: every rotation also seals to the emergency key. */
async function withEmergencyAccess(b: BenchDb): Promise<void> {
  const { session: admin } = await benchSession(b, 'bench-emergency-admin', ['admin'])
  await b.vault.setUpEmergencyAccess({
    admin,
    recoveryPrivateKey: b.recovery.privateKey,
  })
  admin.close()
}

/** 4a: grant one patient to many users, one grant per user, spread over the rounds. */
async function grantComparisons({
  opts,
  bench,
  log,
}: ScenarioContext): Promise<Comparison[]> {
  const b = await bench.fresh()
  await createComparisonTables(b.db)
  const { session, user } = await benchSession(b, 'bench-granter')
  const patientId = await session.createPatient(sampleDemographics(0))
  const [single] = await seedPatients(b, { owner: seedUserOf(session), count: 1 })
  const per = shares(opts.grantees, opts.rounds)
  const warmupShare = Math.min(10, per[0]!)
  const total = opts.grantees + opts.warmup * warmupShare
  log(`registering ${total} grantees`)
  const users = await seedUsers(b, total, 'bench-grantee', benchPassword())
  const slices: (typeof users)[] = []
  let at = 0
  for (let round = 0; round < opts.warmup + opts.rounds; round++) {
    const n = round < opts.warmup ? warmupShare : per[round - opts.warmup]!
    slices.push(users.slice(at, at + n))
    at += n
  }
  const pidBytes = rowIdFromString(patientId, 'patientId')
  const variants: SteppedVariant[] = [
    {
      id: 'plaintext',
      label: 'plaintext: INSERT one access-control row (baseline)',
      step: (round, i) =>
        insertRows(b.db, PLAIN_ACL, [
          {
            patient_id: pidBytes,
            user_id: slices[round]![i]!.idBytes,
            granted_by: user.userIdBytes,
          },
        ]),
    },
    {
      id: 'vault',
      label: 'emr-vault Session.grant (open own grant, HPKE-seal to grantee, audit)',
      step: (round, i) => session.grant(patientId, slices[round]![i]!.id),
    },
  ]
  log(`grant one patient to ${opts.grantees} users over ${opts.rounds} rounds`)
  const samples = await interleaveSteps({
    variants,
    rounds: opts.rounds,
    warmup: opts.warmup,
    steps: (round) => slices[round]!.length,
    units: (round) => slices[round]!.length,
    log,
  })
  const granted = Number(
    (await b.db('patient_key_grants').count({ n: '*' }).first())?.['n'] ?? 0,
  )

  // The cost of many grantees at rotation: every grant is re-sealed.
  const rotateVariants: Variant[] = [
    {
      id: 'one-grantee',
      label: 'rotate a patient with 1 grantee (baseline)',
      run: () => timed(() => session.rotatePatientKey(single!.id)),
    },
    {
      id: 'many-grantees',
      label: `rotate the patient granted to ${opts.grantees.toLocaleString('en-GB')} users`,
      run: () => timed(() => session.rotatePatientKey(patientId)),
    },
  ]
  log('rotate a patient with many grantees')
  const rotateSamples = await interleave({
    variants: rotateVariants,
    rounds: opts.rounds,
    warmup: opts.warmup,
    units: 1,
    log,
  })
  session.close()
  return [
    compare({
      id: 'grant.one-patient',
      title: `grant one patient to ${opts.grantees.toLocaleString('en-GB')} users (${per.join('/')} per round)`,
      unit: 'ms/grant',
      baseline: 'plaintext',
      variants,
      samples,
      notes: [`grants in the database afterwards: ${granted.toLocaleString('en-GB')}`],
    }),
    compare({
      id: 'grant.rotate-granted',
      title: `rotate the key of a patient with ${opts.grantees.toLocaleString('en-GB')} grantees (demographics only)`,
      unit: 'ms/rotation',
      baseline: 'one-grantee',
      variants: rotateVariants,
      samples: rotateSamples,
      notes: ['Every remaining grant is re-sealed with HPKE and inserted again.'],
    }),
  ]
}

/** 4b: rotate one patient holding about `opts.rotateValues` envelope values. */
async function rotateOneComparison({
  opts,
  bench,
  log,
}: ScenarioContext): Promise<Comparison> {
  const b = await bench.fresh()
  await createComparisonTables(b.db)
  await withEmergencyAccess(b)
  const { session } = await benchSession(b, 'bench-rotator')
  const records = Math.max(
    1,
    Math.ceil((opts.rotateValues - VALUES_PER_PATIENT) / VALUES_PER_RECORD),
  )
  let appKey: AppKey = newAppKey()
  log(`seeding one patient with ${records} records`)
  const [patient] = await seedPatients(b, {
    owner: seedUserOf(session),
    count: 1,
    recordsPerPatient: records,
    app: () => appKey,
  })
  const vaultValues = await envelopeValues(b.db, [patient!.idBytes])
  let appValues = 0
  const variants: Variant[] = [
    {
      id: 'app-gcm',
      label: 'app-side: lock, decrypt + re-encrypt in Node, write back (baseline)',
      run: async () => {
        let result: Awaited<ReturnType<typeof appRotatePatient>> | undefined
        const ms = await timed(async () => {
          result = await appRotatePatient(b.db, patient!.idBytes, appKey)
        })
        appKey = result!.key
        appValues = result!.values
        return ms
      },
    },
    {
      id: 'vault',
      label: 'emr-vault Session.rotatePatientKey (verify + re-encrypt in SQL, re-seal)',
      run: () => timed(() => session.rotatePatientKey(patient!.id)),
    },
  ]
  log(`rotate one patient: ${vaultValues} values`)
  const samples = await interleave({
    variants,
    rounds: opts.rounds,
    warmup: opts.warmup,
    // µs per value: each variant divides by its own value count.
    units: (id) => (id === 'vault' ? vaultValues : records * VALUES_PER_RECORD) / 1000,
    log,
  })
  if (appValues !== records * VALUES_PER_RECORD)
    throw new Error('app rotation miscounted')
  session.close()
  const vaultMedian = samples.get('vault')!
  return compare({
    id: 'rotate.one-patient',
    title: `rotate one patient: ${vaultValues.toLocaleString('en-GB')} values (${records.toLocaleString('en-GB')} records + demographics)`,
    unit: 'µs/value',
    baseline: 'app-gcm',
    variants,
    samples,
    notes: [
      `emr-vault: ${fmt(1e6 / medianOf(vaultMedian))} values/s for this patient; ` +
        `one transaction: lock rows, verify every tag, re-encrypt 250 rows per UPDATE, re-seal grant + recovery + emergency.`,
    ],
  })
}

function medianOf(values: number[]): number {
  const s = [...values].sort((x, y) => x - y)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** 4c: rotate --all over a clinic of charts, in values per second. */
async function rotateAllComparison({
  opts,
  bench,
  log,
}: ScenarioContext): Promise<Comparison> {
  const b = await bench.fresh()
  await createComparisonTables(b.db)
  const { session: admin } = await benchSession(b, 'bench-rotate-admin', ['admin'])
  const { session: clinician } = await benchSession(b, 'bench-rotate-owner')
  const appKeys = new Map<string, AppKey>()
  log(
    `seeding ${opts.rotateAllPatients} patients × ${opts.rotateAllRecords} records for rotate --all`,
  )
  const patients = await seedPatients(b, {
    owner: seedUserOf(clinician),
    count: opts.rotateAllPatients,
    recordsPerPatient: opts.rotateAllRecords,
    app: (pid) => {
      const key = newAppKey()
      appKeys.set(pid.toString('hex'), key)
      return key
    },
    log,
  })
  await b.vault.setUpEmergencyAccess({
    admin,
    recoveryPrivateKey: b.recovery.privateKey,
  })
  const vaultValues = await envelopeValues(b.db)
  const appValues = opts.rotateAllPatients * opts.rotateAllRecords * VALUES_PER_RECORD
  const variants: Variant[] = [
    {
      id: 'app-gcm',
      label: 'app-side rotate-all: per patient as app-side rotation (baseline)',
      run: () =>
        timed(async () => {
          for (const p of patients) {
            const hex = p.idBytes.toString('hex')
            const { key } = await appRotatePatient(b.db, p.idBytes, appKeys.get(hex)!)
            appKeys.set(hex, key)
          }
        }),
    },
    {
      id: 'vault',
      label: 'emr-vault vault.rotateAll (recovery key; one transaction per patient)',
      run: () =>
        timed(async () => {
          const result = await b.vault.rotateAll({
            admin,
            recoveryPrivateKey: b.recovery.privateKey,
          })
          if (!result.finished || result.rotated !== opts.rotateAllPatients)
            throw new Error(`rotate-all rotated ${result.rotated}`)
        }),
    },
  ]
  log(`rotate --all: ${vaultValues} values in ${opts.rotateAllPatients} patients`)
  const samples = await interleave({
    variants,
    rounds: opts.rounds,
    warmup: opts.warmup,
    units: (id) => (id === 'vault' ? vaultValues : appValues) / 1000,
    log,
  })
  // One more run, profiled: where a patient's rotation spends its time.
  const profile = await profileStatements(() =>
    b.vault.rotateAll({ admin, recoveryPrivateKey: b.recovery.privateKey }),
  )
  const total = profile.reduce((sum, p) => sum + p.ms, 0)
  const perPatient = (ms: number) => fmt(ms / opts.rotateAllPatients)
  admin.close()
  clinician.close()
  return compare({
    id: 'rotate.all',
    title: `rotate --all: ${opts.rotateAllPatients.toLocaleString('en-GB')} patients, ${vaultValues.toLocaleString('en-GB')} values`,
    unit: 'µs/value',
    baseline: 'app-gcm',
    variants,
    samples,
    notes: [
      `emr-vault: ${fmt(1e6 / medianOf(samples.get('vault')!))} values/s (median round); app-side: ${fmt(1e6 / medianOf(samples.get('app-gcm')!))} values/s.`,
      `A profiled extra run: ${perPatient(total)} ms per patient (${fmt(vaultValues / opts.rotateAllPatients)} values). ` +
        'Time from each statement to the next (the statement, then the Node work after it), per patient: ' +
        profile
          .slice(0, 8)
          .map((p) => `${p.op} ${perPatient(p.ms)}`)
          .join(', ') +
        ` (the rest ${perPatient(profile.slice(8).reduce((sum, p) => sum + p.ms, 0))}). ` +
        'HPKE runs after "find recovery seal" (open), "list grants" (seals to the grantees and the recovery key, together) ' +
        'and "find emergency key" (seal to it); COMMIT after "advance audit head".',
    ],
  })
}

/** Scenario 4: grants and key rotation. */
export const grantRotateScenario: Scenario = async (ctx) => {
  const started = performance.now()
  const grant = await grantComparisons(ctx)
  const one = await rotateOneComparison(ctx)
  const all = await rotateAllComparison(ctx)
  return {
    id: 'grant',
    title:
      'Grant and rotate: one patient to many users; rotate one patient; rotate --all',
    kdf: 'TEST_KDF_POLICY',
    comparisons: [...grant, one, all],
    notes: [
      'Rotate one patient and rotate --all run with break-glass set up (each new key version is also sealed to the emergency key).',
      'Values are the non-NULL envelope columns of patients and clinical_records; the app-side rows hold the same records (no demographics).',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}
