import { parseArgs } from 'node:util'
import { BENCH_DATABASE, checkBenchDatabaseName } from './database.js'

export const SCENARIOS = [
  'write',
  'read',
  'password',
  'grant',
  'login',
  'memory',
  'declared',
  'search',
  'chart-baseline',
] as const
export type ScenarioId = (typeof SCENARIOS)[number]

export interface BenchOptions {
  readonly quick: boolean
  readonly rounds: number
  readonly warmup: number
  /** Scenario 1: records each write variant inserts per round. */
  readonly records: number
  /** Scenario 1: rows per multi-row INSERT in the batched comparison. */
  readonly batch: number
  /** Scenario 2: records in the chart. */
  readonly chart: number
  /** Scenario 2: chart reads per variant per round. */
  readonly reads: number
  /** Scenario 3: grant counts of the users whose password changes. */
  readonly grants: number[]
  /** Scenario 4: users one patient is granted to (spread over the rounds). */
  readonly grantees: number
  /** Scenario 4: envelope values of the patient rotated alone. */
  readonly rotateValues: number
  /** Scenario 4: patients and records per patient for rotate --all. */
  readonly rotateAllPatients: number
  readonly rotateAllRecords: number
  /** Scenario 5: rounds at production KDF cost (each login ≈ 0.3–0.6 s here). */
  readonly loginRounds: number
  /** Scenario 6: the two export sizes (records and audit rows), small then large. */
  readonly memorySizes: [number, number]
  readonly memoryRounds: number
  /** Records per patient in the memory scenario's chart set. */
  readonly memoryRecordsPerPatient: number
  /** Scenario 8: population sizes searched, smallest first (real + synthetic patients). */
  readonly searchSizes: number[]
  /** Scenario 8: patients made through the vault (granted, found by the searches). */
  readonly searchPatients: number
  /** Scenario 8: searches per variant per round. */
  readonly searches: number
  /** Scenario chart-baseline: patients whose chart state recordChartStates records (spread over the rounds). */
  readonly baselinePatients: number
  /** Records per patient in the chart-baseline scenario. */
  readonly baselineRecordsPerPatient: number
  readonly only: ScenarioId[]
  readonly out: string
  readonly database: string
  readonly keep: boolean
}

const FULL = {
  rounds: 5,
  warmup: 1,
  records: 300,
  batch: 100,
  chart: 50,
  reads: 40,
  grants: [10, 100, 1000, 10_000],
  grantees: 1000,
  rotateValues: 10_000,
  rotateAllPatients: 100,
  rotateAllRecords: 50,
  loginRounds: 5,
  memorySizes: [10_000, 100_000] as [number, number],
  memoryRounds: 2,
  memoryRecordsPerPatient: 100,
  searchSizes: [10_000, 100_000],
  searchPatients: 200,
  searches: 40,
  baselinePatients: 10_000,
  baselineRecordsPerPatient: 10,
}

const QUICK: typeof FULL = {
  rounds: 3,
  warmup: 1,
  records: 30,
  batch: 10,
  chart: 50,
  reads: 5,
  grants: [10, 100, 1000],
  grantees: 60,
  rotateValues: 1000,
  rotateAllPatients: 10,
  rotateAllRecords: 10,
  loginRounds: 2,
  memorySizes: [1000, 5000],
  memoryRounds: 1,
  memoryRecordsPerPatient: 50,
  searchSizes: [1000, 5000],
  searchPatients: 20,
  searches: 5,
  baselinePatients: 60,
  baselineRecordsPerPatient: 5,
}

export const USAGE = `npm run bench -- [options]

Measures what emr-vault's encryption costs next to plaintext and next to
application-side AES-256-GCM, every comparison interleaved in one run.
Writes bench-results/bench-<time>.json and .svg (and latest.json / latest.svg).

  --quick                 small sizes (about a minute); the test runs this
  --rounds N              measured rounds per comparison (full ${FULL.rounds}, quick ${QUICK.rounds})
  --warmup N              unmeasured rounds first (${FULL.warmup})
  --records N             write: records per variant per round (full ${FULL.records}); declared: half as many rows
  --batch N               write: rows per multi-row INSERT (full ${FULL.batch})
  --chart N               read: records in the chart (${FULL.chart})
  --reads N               read: chart reads per variant per round (full ${FULL.reads}); declared: as many
                          50-row pages and three times as many single-row reads; chart-baseline:
                          as many reads of patients not yet recorded
  --grants A,B,…          password change: grant counts (full ${FULL.grants.join(',')})
  --grantees N            grant: users one patient is granted to (full ${FULL.grantees})
  --rotate-values N       rotate: envelope values of the one patient (full ${FULL.rotateValues})
  --rotate-all-patients N rotate --all: patients (full ${FULL.rotateAllPatients})
  --rotate-all-records N  rotate --all: records per patient (full ${FULL.rotateAllRecords})
  --login-rounds N        login at production KDF: rounds (full ${FULL.loginRounds})
  --memory-sizes S,L      memory: small and large export sizes (full ${FULL.memorySizes.join(',')})
  --memory-rounds N       memory: rounds of child exports (full ${FULL.memoryRounds})
  --search-sizes A,B,…    search: population sizes (full ${FULL.searchSizes.join(',')}; the issue's
                          1,000,000 with --search-sizes=10000,100000,1000000)
  --search-patients N     search: real patients, made through the vault (full ${FULL.searchPatients})
  --searches N            search: searches per variant per round (full ${FULL.searches})
  --baseline-patients N   chart-baseline: patients recorded by recordChartStates, spread over
                          the rounds (full ${FULL.baselinePatients.toLocaleString('en-GB')}, ${FULL.baselineRecordsPerPatient} records each)
  --only a,b,…            scenarios to run: ${SCENARIOS.join(', ')}
  --out DIR               where results go (bench-results)
  --database NAME         ${BENCH_DATABASE} or ${BENCH_DATABASE}_<suffix>; dropped at start and end
  --keep                  keep the bench database at the end (for inspection)
  --help
`

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer`)
  return value
}

function list(name: string, raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined) return fallback
  return raw.split(',').map((part) => positive(name, part.trim(), 0))
}

export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      records: { type: 'string' },
      batch: { type: 'string' },
      chart: { type: 'string' },
      reads: { type: 'string' },
      grants: { type: 'string' },
      grantees: { type: 'string' },
      'rotate-values': { type: 'string' },
      'rotate-all-patients': { type: 'string' },
      'rotate-all-records': { type: 'string' },
      'login-rounds': { type: 'string' },
      'memory-sizes': { type: 'string' },
      'memory-rounds': { type: 'string' },
      'search-sizes': { type: 'string' },
      'search-patients': { type: 'string' },
      searches: { type: 'string' },
      'baseline-patients': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string', default: 'bench-results' },
      database: { type: 'string', default: BENCH_DATABASE },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) return 'help'
  const d = values.quick ? QUICK : FULL
  const only = values.only
    ? values.only.split(',').map((s) => {
        const id = s.trim() as ScenarioId
        if (!SCENARIOS.includes(id))
          throw new Error(`--only: unknown scenario "${s}" (${SCENARIOS.join(', ')})`)
        return id
      })
    : [...SCENARIOS]
  const memorySizes = list('memory-sizes', values['memory-sizes'], d.memorySizes)
  if (memorySizes.length !== 2 || memorySizes[0]! >= memorySizes[1]!) {
    throw new Error('--memory-sizes takes two sizes, small first: e.g. 10000,100000')
  }
  const searchSizes = list('search-sizes', values['search-sizes'], d.searchSizes)
  const searchPatients = positive(
    'search-patients',
    values['search-patients'],
    d.searchPatients,
  )
  if (searchSizes.some((n) => n < searchPatients)) {
    throw new Error(
      `--search-sizes: every size must be at least --search-patients (${searchPatients})`,
    )
  }
  return {
    quick: values.quick,
    rounds: positive('rounds', values.rounds, d.rounds),
    warmup: values.warmup === '0' ? 0 : positive('warmup', values.warmup, d.warmup),
    records: positive('records', values.records, d.records),
    batch: positive('batch', values.batch, d.batch),
    chart: positive('chart', values.chart, d.chart),
    reads: positive('reads', values.reads, d.reads),
    grants: list('grants', values.grants, d.grants),
    grantees: positive('grantees', values.grantees, d.grantees),
    rotateValues: positive('rotate-values', values['rotate-values'], d.rotateValues),
    rotateAllPatients: positive(
      'rotate-all-patients',
      values['rotate-all-patients'],
      d.rotateAllPatients,
    ),
    rotateAllRecords: positive(
      'rotate-all-records',
      values['rotate-all-records'],
      d.rotateAllRecords,
    ),
    loginRounds: positive('login-rounds', values['login-rounds'], d.loginRounds),
    memorySizes: memorySizes as [number, number],
    memoryRounds: positive('memory-rounds', values['memory-rounds'], d.memoryRounds),
    memoryRecordsPerPatient: d.memoryRecordsPerPatient,
    searchSizes,
    searchPatients,
    searches: positive('searches', values.searches, d.searches),
    baselinePatients: positive(
      'baseline-patients',
      values['baseline-patients'],
      d.baselinePatients,
    ),
    baselineRecordsPerPatient: d.baselineRecordsPerPatient,
    only,
    out: values.out,
    database: checkBenchDatabaseName(values.database),
    keep: values.keep,
  }
}
