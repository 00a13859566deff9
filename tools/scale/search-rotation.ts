/**
 * `npm run scale:search-rotation [-- --patients 1000 --rows-per-patient 99]`:
 * issue 12's "search-key rotation over 100k rows is killed and resumed and ends
 * with every search correct", as a run of its own (minutes, too long for the
 * mocha suite; test/search/reindex.test.ts is the 400-patient version there).
 *
 * The data. 1,000 patients made through the vault (createPatient: sealed,
 * indexed under the old search key, audited), each with 99 rows of a declared
 * table with a unique exact index and an 11-bit coarse one
 * (search-rotation-table.ts): 100,000 indexed rows, every envelope and every
 * index value the library's. The table's rows are not inserted one by one
 * through `session.table().insert`: each is an audited act and the chain lock
 * allows about 100 a second, 17 minutes for 99,000. Nor are they sealed here
 * with the repository's internals, which would leave the chart state and the
 * audit trail without them. They arrive as an existing clinic's data does
 * (docs/conversion.md): plaintext bulk-inserted into the table's
 * `convertingFrom` columns, sealed by `convertPlaintextColumn` one patient per
 * transaction (chart state and audit row with it), the plaintext columns
 * dropped, and only then the indexes declared (a converting field may not be
 * indexed), their columns added by `addEncryptedColumns` and filled by a first
 * `rebuildSearchIndexes` under the old key: the upgrade path, timed as a
 * rebuild that is never killed.
 *
 * The rotation. The new key current and the old one previous, the rebuild runs
 * in a child process (search-rotation-child.ts) killed with SIGKILL at a random
 * patient count `--kills` times, then run to the end. While a doomed child
 * runs, this process searches random rows under both keys (the answers must
 * not depend on how far it got); after each kill every stored index column of
 * every row is checked against the key its patient's audit row says it is
 * under, and a sample is searched through the API.
 *
 * The checks at the end, on every row: each stored index column is the new
 * key's value; the search's own stage-one query (candidateRowsQuery) finds
 * each row by its exact indexes, and only it, and each coarse value's
 * candidates include all its true matches; no row holds an old key's exact
 * value. Through the API (audited, so ~100 a second: a sample, `--sample`):
 * the new key alone finds rows by exact and coarse indexes exactly; the old key
 * alone finds nothing. Then a second run does nothing, every rotation audit row
 * says 0 conflicts, and the audit chain verifies.
 *
 * Runs on the server of the environment, else the private local one
 * (EMR_VAULT_ENGINE=mariadb for MariaDB), in the database
 * `emr_vault_bench_rotation`, dropped at the start and the end. Keys are made
 * at run time and reach the child on stdin; none is printed.
 */
import { spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import type { Knex } from 'knex'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { DB_ENV, type DbConfig } from '../../src/db/index.js'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import { createVault, verifyAuditChain, type Vault } from '../../src/index.js'
import { candidateRowsQuery } from '../../src/repositories/search.repository.js'
import { PATIENTS } from '../../src/schema/chart-tables.js'
import type { TableDeclaration } from '../../src/schema/define-table.js'
import { deriveTableIndexKeys, indexColumnValues } from '../../src/schema/index-values.js'
import { addEncryptedColumns, createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { Session } from '../../src/services/session.js'
import { selectRows } from '../../src/sql/prepared.js'
import { BenchDatabase, benchServerConfig, serverVersion } from '../bench/database.js'
import { insertRows } from '../bench/fixtures.js'
import {
  accessionOf,
  CONVERTING,
  panelOf,
  patientOf,
  SPECIMENS,
  SPECIMENS_TABLE,
} from './search-rotation-table.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = fileURLToPath(new URL('./search-rotation-child.ts', import.meta.url))
const DATABASE = 'emr_vault_bench_rotation'

interface Options {
  patients: number
  rowsPerPatient: number
  kills: number
  sample: number
  keep: boolean
}

const USAGE = `npm run scale:search-rotation [-- options]
  --patients N          patients (default 1000)
  --rows-per-patient N  declared-table rows per patient (default 99; rows = patients × (1 + N))
  --kills N             SIGKILLs before the run that finishes (default 2)
  --sample N            rows searched through the API after each kill and at the end (default 300)
  --keep                keep the database afterwards (default: dropped)
`

function parseArgs(argv: readonly string[]): Options | 'help' {
  const o: Options = {
    patients: 1000,
    rowsPerPatient: 99,
    kills: 2,
    sample: 300,
    keep: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--help' || a === '-h') return 'help'
    if (a === '--keep') {
      o.keep = true
      continue
    }
    const key = {
      '--patients': 'patients',
      '--rows-per-patient': 'rowsPerPatient',
      '--kills': 'kills',
      '--sample': 'sample',
    }[a] as 'patients' | 'rowsPerPatient' | 'kills' | 'sample' | undefined
    const n = Number(argv[++i])
    if (!key || !Number.isInteger(n) || n < 0)
      throw new Error(`bad argument ${a}\n${USAGE}`)
    o[key] = n
  }
  if (o.patients < 10 * (o.kills + 1)) throw new Error('--patients too few for the kills')
  return o
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const log = (line: string) => console.log(`  ${line}`)

/** A stored or computed index value as one comparable string (BINARY(16) or INT UNSIGNED). */
function valueText(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  return Buffer.isBuffer(v) ? v.toString('hex') : String(v)
}

function columnsText(decl: TableDeclaration, row: Record<string, unknown>): string {
  return decl.indexes.map((i) => valueText(row[i.column])).join('|')
}

/** What is known of every indexed row, to check it without opening it. */
interface Population {
  /** Patient ids in creation order, as strings and bytes. */
  readonly patientIds: string[]
  /** Declared-table row ids (strings), and for each its patient number and row number. */
  readonly rowIds: string[]
  readonly rowPatient: number[]
  readonly rowNumber: number[]
}

interface Expected {
  readonly patients: { old: string[]; new: string[] }
  readonly rows: { old: string[]; new: string[] }
}

function specimenValues(o: Options, p: number, r: number) {
  return { accession: accessionOf(p, r), panel: panelOf(p, r, o.rowsPerPatient) }
}

function expectedValues(
  o: Options,
  pop: Population,
  oldKey: Buffer,
  newKey: Buffer,
): Expected {
  const under = (key: Buffer) => {
    const pk = deriveTableIndexKeys(key, PATIENTS)
    const sk = deriveTableIndexKeys(key, SPECIMENS)
    return {
      patients: pop.patientIds.map((_, i) =>
        columnsText(PATIENTS, indexColumnValues(PATIENTS.indexes, pk, patientOf(i))),
      ),
      rows: pop.rowIds.map((_, k) =>
        columnsText(
          SPECIMENS,
          indexColumnValues(
            SPECIMENS.indexes,
            sk,
            specimenValues(o, pop.rowPatient[k]!, pop.rowNumber[k]!),
          ),
        ),
      ),
    }
  }
  const o1 = under(oldKey)
  const n1 = under(newKey)
  return {
    patients: { old: o1.patients, new: n1.patients },
    rows: { old: o1.rows, new: n1.rows },
  }
}

async function maxAuditSeq(db: Knex): Promise<number> {
  const [row] = (await db('audit_log').max({ s: 'seq' })) as {
    s: number | string | null
  }[]
  return Number(row?.s ?? 0)
}

/** Patients whose rotation transaction committed: their `search.reindex` row since `fromSeq`. */
async function reindexedSince(db: Knex, fromSeq: number): Promise<Set<string>> {
  const rows = (await db('audit_log')
    .select('patient_id')
    .where({ action: 'search.reindex', outcome: 'success' })
    .where('seq', '>', fromSeq)) as { patient_id: Buffer }[]
  return new Set(rows.map((r) => rowIdToString(r.patient_id)))
}

/**
 * Every index column of every row against the key its patient is under: the
 * new one exactly when the patient's rotation audit row exists. Also the run's
 * own count. Returns the patients done.
 */
async function expectConsistent(
  db: Knex,
  pop: Population,
  exp: Expected,
  fromSeq: number,
  fingerprint: Buffer,
): Promise<number> {
  const done = await reindexedSince(db, fromSeq)
  const failures: string[] = []
  const patientRows = (await db('patients').select(
    'id',
    ...PATIENTS.indexes.map((i) => i.column),
  )) as Record<string, unknown>[]
  const byPatient = new Map(
    patientRows.map((r) => [rowIdToString(r['id'] as Buffer), columnsText(PATIENTS, r)]),
  )
  for (const [i, id] of pop.patientIds.entries()) {
    const want = done.has(id) ? exp.patients.new[i] : exp.patients.old[i]
    if (byPatient.get(id) !== want) failures.push(`patient ${i}`)
  }
  const specimenRows = (await db(SPECIMENS_TABLE).select(
    'id',
    ...SPECIMENS.indexes.map((i) => i.column),
  )) as Record<string, unknown>[]
  const byRow = new Map(
    specimenRows.map((r) => [
      rowIdToString(r['id'] as Buffer),
      columnsText(SPECIMENS, r),
    ]),
  )
  if (byRow.size !== pop.rowIds.length) failures.push(`${byRow.size} rows stored`)
  for (const [k, id] of pop.rowIds.entries()) {
    const patient = pop.patientIds[pop.rowPatient[k]!]!
    const want = done.has(patient) ? exp.rows.new[k] : exp.rows.old[k]
    if (byRow.get(id) !== want) failures.push(`row ${k} of patient ${pop.rowPatient[k]}`)
  }
  const [run] = (await db('emr_vault_search_index_runs')
    .select('patients')
    .where({ key_fingerprint: fingerprint })) as { patients: number }[]
  if ((run?.patients ?? 0) !== done.size)
    failures.push(`run counts ${run?.patients ?? 0} patients, audit ${done.size}`)
  if (failures.length > 0)
    throw new Error(
      `${failures.length} index values not under the expected key: ${failures.slice(0, 10).join(', ')}`,
    )
  return done.size
}

/** The true matches of a coarse panel search: every row with that panel. */
function panelMatches(o: Options, pop: Population): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const [k, id] of pop.rowIds.entries()) {
    const panel = panelOf(pop.rowPatient[k]!, pop.rowNumber[k]!, o.rowsPerPatient)
    let list = m.get(panel)
    if (!list) m.set(panel, (list = []))
    list.push(id)
  }
  for (const list of m.values()) list.sort()
  return m
}

/** The true matches of byBirthAndInitial: same date of birth, same surname initial (folded). */
function birthInitialMatches(pop: Population): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const [i, id] of pop.patientIds.entries()) {
    const p = patientOf(i)
    const key = `${p.dateOfBirth} ${p.fullName.split(' ').at(-1)!.slice(0, 1).toLowerCase()}`
    let list = m.get(key)
    if (!list) m.set(key, (list = []))
    list.push(id)
  }
  for (const list of m.values()) list.sort()
  return m
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i])

interface SearchChecker {
  /** Searches row k by both of its table's indexes and its patient by three; returns failures. */
  (k: number, found: boolean): Promise<string[]>
}

/**
 * Searches through the API, as an application does: `found` says whether the
 * session's keys should find the row (true, the true matches exactly) or not
 * (false, nothing).
 */
function searchChecker(
  o: Options,
  pop: Population,
  session: Session,
  panels: Map<string, string[]>,
  births: Map<string, string[]>,
): SearchChecker {
  const table = session.table(SPECIMENS)
  return async (k, found) => {
    const failures: string[] = []
    const p = pop.rowPatient[k]!
    const values = specimenValues(o, p, pop.rowNumber[k]!)
    const want = (list: string[]) => (found ? list : [])
    const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort()
    const check = (what: string, got: string[], expected: string[]) => {
      if (!sameList(got, expected))
        failures.push(`${what}: ${got.length} of ${expected.length}`)
    }
    const exact = await table.search('byAccession', { accession: values.accession })
    check(`row ${k} byAccession`, ids(exact.rows), want([pop.rowIds[k]!]))
    const coarse = await table.search('byPanel', { panel: values.panel })
    check(`row ${k} byPanel`, ids(coarse.rows), want(panels.get(values.panel)!))
    const person = patientOf(p)
    const pid = pop.patientIds[p]!
    const byId = await session.searchPatients('byNationalId', {
      nationalId: person.nationalId,
    })
    check(`patient ${p} byNationalId`, ids(byId.rows), want([pid]))
    const byName = await session.searchPatients('byName', { fullName: person.fullName })
    check(`patient ${p} byName`, ids(byName.rows), want([pid]))
    const byBirth = await session.searchPatients('byBirthAndInitial', {
      dateOfBirth: person.dateOfBirth,
      fullName: person.fullName,
    })
    const birthKey = `${person.dateOfBirth} ${person.fullName.split(' ').at(-1)!.slice(0, 1).toLowerCase()}`
    check(
      `patient ${p} byBirthAndInitial`,
      ids(byBirth.rows),
      want(births.get(birthKey)!),
    )
    for (const r of [exact, coarse, byId, byName, byBirth])
      if (r.elsewhere.patients !== 0) failures.push(`${r.index}: patients elsewhere`)
    return failures
  }
}

/** `count` random row numbers, those of patients in `done` or not, as `from` says. */
function sampleRows(
  pop: Population,
  count: number,
  pick: (patientId: string) => boolean,
): number[] {
  const eligible = pop.rowIds
    .map((_, k) => k)
    .filter((k) => pick(pop.patientIds[pop.rowPatient[k]!]!))
  const out: number[] = []
  for (let n = 0; n < count && eligible.length > 0; n++)
    out.push(eligible[randomInt(eligible.length)]!)
  return out
}

async function runSample(check: SearchChecker, rows: readonly number[], found: boolean) {
  const failures: string[] = []
  for (const k of rows) failures.push(...(await check(k, found)))
  if (failures.length > 0)
    throw new Error(
      `${failures.length} searches wrong: ${failures.slice(0, 10).join('; ')}`,
    )
}

interface ChildRun {
  readonly ms: number
  /** The child's own count of patients done when it was killed (or finished). */
  readonly printed: number
  readonly killed: boolean
  readonly result?: ChildResult
}

/** What the child prints last: counts only. */
interface ChildResult {
  finished: boolean
  patients: number
  rows: number
  remaining: number
  conflicts: number
}

/** Runs the rebuild child; kills it with SIGKILL once it prints `done <killAt>` (if given). */
function runChild(config: DbConfig, input: string, killAt?: number): Promise<ChildRun> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: {
      ...process.env,
      [DB_ENV.host]: config.host,
      [DB_ENV.port]: String(config.port),
      [DB_ENV.user]: config.user,
      [DB_ENV.password]: config.password,
      [DB_ENV.database]: config.database,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let printed = 0
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    for (const m of d.toString().matchAll(/done (\d+)/g))
      printed = Math.max(printed, Number(m[1]))
    if (killAt !== undefined && printed >= killAt && child.exitCode === null)
      child.kill('SIGKILL')
  })
  child.stdin.end(input)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const ms = performance.now() - started
      if (killAt !== undefined) {
        if (signal !== 'SIGKILL')
          return reject(
            new Error(`the child ended before its kill (code ${code}): ${stderr}`),
          )
        return resolve({ ms, printed, killed: true })
      }
      const last = stdout.trim().split('\n').at(-1) ?? ''
      if (code !== 0 || !last.startsWith('{'))
        return reject(new Error(`the child failed (code ${code}): ${stderr}`))
      resolve({ ms, printed, killed: false, result: JSON.parse(last) as ChildResult })
    })
  })
}

/**
 * For every row, the search's stage-one query under the new key: an exact
 * index finds the row and no other; a coarse value's candidates include all
 * its true matches. Then no old exact value is stored anywhere.
 */
async function stageOneEverywhere(
  db: Knex,
  o: Options,
  pop: Population,
  oldKey: Buffer,
  newKey: Buffer,
  panels: Map<string, string[]>,
): Promise<{ queries: number }> {
  const failures: string[] = []
  let queries = 0
  const sNew = deriveTableIndexKeys(newKey, SPECIMENS)
  const pNew = deriveTableIndexKeys(newKey, PATIENTS)
  const find = async (decl: TableDeclaration, index: string, value: Buffer | number) => {
    queries++
    const i = decl.indexes.find((x) => x.name === index)!
    const rows = await selectRows<{ id: Buffer }>(
      db,
      candidateRowsQuery(db, decl, i, [value], 1001),
      'scale stage one',
    )
    return rows.map((r) => rowIdToString(r.id)).sort()
  }
  const column = (
    decl: TableDeclaration,
    keys: ReturnType<typeof deriveTableIndexKeys>,
    values: Record<string, unknown>,
    index: string,
  ) =>
    indexColumnValues(decl.indexes, keys, values)[
      decl.indexes.find((x) => x.name === index)!.column
    ]!
  const jobs: (() => Promise<void>)[] = []
  for (const [k, id] of pop.rowIds.entries()) {
    jobs.push(async () => {
      const v = specimenValues(o, pop.rowPatient[k]!, pop.rowNumber[k]!)
      const got = await find(
        SPECIMENS,
        'byAccession',
        column(SPECIMENS, sNew, v, 'byAccession'),
      )
      if (!sameList(got, [id])) failures.push(`row ${k} byAccession: ${got.length}`)
    })
  }
  for (const [panel, ids] of panels) {
    jobs.push(async () => {
      const got = new Set(
        await find(SPECIMENS, 'byPanel', column(SPECIMENS, sNew, { panel }, 'byPanel')),
      )
      if (!ids.every((id) => got.has(id))) failures.push(`${panel} byPanel`)
    })
  }
  for (const [i, id] of pop.patientIds.entries()) {
    jobs.push(async () => {
      for (const index of ['byNationalId', 'byName']) {
        const got = await find(
          PATIENTS,
          index,
          column(PATIENTS, pNew, patientOf(i), index),
        )
        if (!sameList(got, [id])) failures.push(`patient ${i} ${index}: ${got.length}`)
      }
    })
  }
  let next = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < jobs.length) await jobs[next++]!()
    }),
  )
  // The old key's exact values, in batches: none may remain.
  const sOld = deriveTableIndexKeys(oldKey, SPECIMENS)
  const pOld = deriveTableIndexKeys(oldKey, PATIENTS)
  const stale = async (decl: TableDeclaration, index: string, values: Buffer[]) => {
    const col = decl.indexes.find((x) => x.name === index)!.column
    let n = 0
    for (let at = 0; at < values.length; at += 1000) {
      queries++
      const [row] = (await db(decl.name)
        .count({ n: '*' })
        .whereIn(col, values.slice(at, at + 1000))) as { n: number | string }[]
      n += Number(row?.n ?? 0)
    }
    if (n > 0) failures.push(`${n} rows still hold an old ${decl.name}.${index} value`)
  }
  await stale(
    SPECIMENS,
    'byAccession',
    pop.rowIds.map(
      (_, k) =>
        column(
          SPECIMENS,
          sOld,
          specimenValues(o, pop.rowPatient[k]!, pop.rowNumber[k]!),
          'byAccession',
        ) as Buffer,
    ),
  )
  for (const index of ['byNationalId', 'byName'])
    await stale(
      PATIENTS,
      index,
      pop.patientIds.map((_, i) => column(PATIENTS, pOld, patientOf(i), index) as Buffer),
    )
  if (failures.length > 0)
    throw new Error(
      `stage one wrong for ${failures.length}: ${failures.slice(0, 10).join('; ')}`,
    )
  return { queries }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return 'unknown'
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  if (o === 'help') {
    process.stdout.write(USAGE)
    return
  }
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const loadStart = loadavg()
  const config = await benchServerConfig(DATABASE, (line) => log(`[db] ${line}`))
  const server = await serverVersion(config)
  console.log(
    `search-key rotation at scale on ${config.host}:${config.port}/${config.database} (${server})`,
  )
  const auditKey = randomBytes(32)
  const bench = BenchDatabase.create(config, auditKey)
  const b = await bench.fresh()
  const { db, recovery } = b
  const oldKey = b.searchKey
  const newKey = randomBytes(32)
  const vaultOf = (
    tables: TableDeclaration[],
    keys: { searchKey: Buffer; previousSearchKey?: Buffer },
  ): Vault =>
    createVault({
      db,
      recoveryPublicKey: recovery.publicKey,
      auditKey,
      kdfPolicy: TEST_KDF_POLICY,
      tables,
      searchLimits: { perSession: 1_000_000_000, perUser: 1_000_000_000 },
      ...keys,
    })
  const times: Record<string, number> = {}
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const t = performance.now()
    const out = await work()
    times[name] = performance.now() - t
    log(`${name}: ${seconds(times[name])}`)
    return out
  }

  try {
    // ---- Setup ----
    const setupStart = performance.now()
    const converting = vaultOf([CONVERTING], { searchKey: oldKey })
    const adminPassword = `scale-${randomBytes(12).toString('base64url')}`
    const adminName = 'scale-rotation-admin'
    await converting.registerUser({
      username: adminName,
      displayName: 'Scale rotation admin',
      password: adminPassword,
      roles: ['admin', 'clinician'],
    })
    const admin = await converting.login(adminName, adminPassword)
    const authority = { admin, recoveryPrivateKey: recovery.privateKey }
    await createEncryptedTable(db, CONVERTING, (t) => {
      t.string('accession_plain', 40).nullable()
      t.string('panel_plain', 40).nullable()
    })
    const pop: Population = { patientIds: [], rowIds: [], rowPatient: [], rowNumber: [] }
    await timed('patients through createPatient', async () => {
      let next = 0
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < o.patients) {
            const i = next++
            pop.patientIds[i] = await admin.createPatient(patientOf(i))
          }
        }),
      )
    })
    await timed('plaintext rows bulk-inserted', async () => {
      const batch: Record<string, unknown>[] = []
      const flush = async () => {
        await insertRows(db, SPECIMENS_TABLE, batch, 1000)
        batch.length = 0
      }
      for (const [p, pid] of pop.patientIds.entries()) {
        const patient = Buffer.from(pid.replaceAll('-', ''), 'hex')
        for (let r = 0; r < o.rowsPerPatient; r++) {
          const id = newRowId()
          pop.rowIds.push(rowIdToString(id))
          pop.rowPatient.push(p)
          pop.rowNumber.push(r)
          const v = specimenValues(o, p, r)
          batch.push({
            id,
            patient_id: patient,
            accession_plain: v.accession,
            panel_plain: v.panel,
          })
          if (batch.length === 5000) await flush()
        }
      }
      await flush()
    })
    for (const field of ['accession', 'panel']) {
      const result = await timed(`convertPlaintextColumn ${field}`, () =>
        converting.convertPlaintextColumn(authority, CONVERTING, { field }),
      )
      if (!result.finished || result.rows !== pop.rowIds.length)
        throw new Error(
          `conversion of ${field}: ${result.rows} rows, finished ${result.finished}`,
        )
    }
    const indexed = vaultOf([SPECIMENS], { searchKey: oldKey })
    for (const column of ['accession_plain', 'panel_plain'])
      await indexed.dropPlaintextColumn(admin, SPECIMENS, column)
    await addEncryptedColumns(db, SPECIMENS, ['byAccession', 'byPanel'])
    const upgrade = await timed('rebuild under the old key (upgrade, not killed)', () =>
      indexed.rebuildSearchIndexes(authority),
    )
    if (!upgrade.finished || upgrade.conflicts.length > 0)
      throw new Error(
        `the upgrade rebuild: finished ${upgrade.finished}, ${upgrade.conflicts.length} conflicts`,
      )
    const setupMs = performance.now() - setupStart
    const totalRows = pop.patientIds.length + pop.rowIds.length
    log(`setup: ${seconds(setupMs)}, ${o.patients} patients, ${totalRows} indexed rows`)

    // ---- Rotation ----
    const exp = expectedValues(o, pop, oldKey, newKey)
    const fromSeq = await maxAuditSeq(db)
    const { searchKeyFingerprint } =
      await import('../../src/services/search-reindex.service.js')
    const fingerprint = searchKeyFingerprint(newKey)
    {
      const done = await expectConsistent(db, pop, exp, fromSeq, fingerprint)
      if (done !== 0) throw new Error('patients under the new key before the rotation')
    }
    const panels = panelMatches(o, pop)
    const births = birthInitialMatches(pop)
    const rotating = vaultOf([SPECIMENS], {
      searchKey: newKey,
      previousSearchKey: oldKey,
    })
    const searcher = await rotating.login(adminName, adminPassword)
    const during = searchChecker(o, pop, searcher, panels, births)
    const input = JSON.stringify({
      auditKey: auditKey.toString('base64'),
      searchKey: newKey.toString('base64'),
      previousSearchKey: oldKey.toString('base64'),
      recoveryPublicKey: recovery.publicKey.toString('base64'),
      recoveryPrivateKey: recovery.privateKey.toString('base64'),
      username: adminName,
      password: adminPassword,
    })
    const kills: {
      target: number
      printed: number
      committed: number
      ms: number
      concurrentSearches: number
    }[] = []
    let done = 0
    for (let kill = 0; kill < o.kills; kill++) {
      const left = o.patients - done
      const target =
        done + randomInt(Math.max(1, Math.floor(left * 0.1)), Math.floor(left * 0.4))
      // Searches while the doomed child runs: any row, under either key, must be found.
      let running = true
      let concurrent = 0
      const concurrentFailures: string[] = []
      const searching = (async () => {
        while (running) {
          concurrentFailures.push(...(await during(randomInt(pop.rowIds.length), true)))
          concurrent++
        }
      })()
      // The child counts the patients of its own call.
      const run = await runChild(config, input, target - done).finally(
        () => (running = false),
      )
      await searching
      if (concurrentFailures.length > 0)
        throw new Error(
          `searches during the rebuild: ${concurrentFailures.slice(0, 10).join('; ')}`,
        )
      const t = performance.now()
      const committed = await expectConsistent(db, pop, exp, fromSeq, fingerprint)
      if (committed <= done || committed >= o.patients)
        throw new Error(
          `after kill ${kill + 1}: ${committed} patients done (before: ${done})`,
        )
      const doneSet = await reindexedSince(db, fromSeq)
      await runSample(
        during,
        sampleRows(pop, Math.ceil(o.sample / 2), (id) => doneSet.has(id)),
        true,
      )
      await runSample(
        during,
        sampleRows(pop, Math.ceil(o.sample / 2), (id) => !doneSet.has(id)),
        true,
      )
      kills.push({
        target,
        printed: run.printed,
        committed,
        ms: run.ms,
        concurrentSearches: concurrent,
      })
      log(
        `kill ${kill + 1}: SIGKILL at "done ${run.printed}" of this call (${done + run.printed} in all, target ${target}), ` +
          `${committed} patients committed, ` +
          `child ran ${seconds(run.ms)}, ${concurrent} searches meanwhile; consistent and ${o.sample} rows found (${seconds(performance.now() - t)})`,
      )
      done = committed
    }
    const last = await runChild(config, input)
    const result = last.result!
    log(
      `last run: ${result.patients} patients, ${result.rows} rows, finished ${result.finished}, ` +
        `${result.conflicts} conflicts, ${seconds(last.ms)}`,
    )
    if (!result.finished || result.remaining !== 0 || result.conflicts !== 0)
      throw new Error('the last run did not finish cleanly')
    if (done + result.patients !== o.patients)
      throw new Error(`${done} + ${result.patients} patients is not ${o.patients}`)
    searcher.close()
    const rebuildMs = kills.reduce((s, k) => s + k.ms, 0) + last.ms

    // ---- Checks ----
    const checkStart = performance.now()
    const all = await timed('every index column under the new key', () =>
      expectConsistent(db, pop, exp, fromSeq, fingerprint),
    )
    if (all !== o.patients) throw new Error(`${all} patients under the new key`)
    const stageOne = await timed('stage-one query for every row', () =>
      stageOneEverywhere(db, o, pop, oldKey, newKey, panels),
    )
    const sample = sampleRows(pop, o.sample, () => true)
    const rotated = vaultOf([SPECIMENS], { searchKey: newKey })
    const newOnly = await rotated.login(adminName, adminPassword)
    await timed(`API searches, new key alone (${sample.length} rows × 5)`, () =>
      runSample(searchChecker(o, pop, newOnly, panels, births), sample, true),
    )
    const stale = vaultOf([SPECIMENS], { searchKey: oldKey })
    const oldOnly = await stale.login(adminName, adminPassword)
    await timed(`API searches, old key alone (${sample.length} rows × 5)`, () =>
      runSample(searchChecker(o, pop, oldOnly, panels, births), sample, false),
    )
    newOnly.close()
    oldOnly.close()
    const again = await rotated.rebuildSearchIndexes(authority)
    if (again.patients !== 0 || !again.finished) throw new Error('a second run did work')
    const details = (await db('audit_log')
      .select('detail')
      .where({ action: 'search.reindex' })
      .where('seq', '>', fromSeq)) as { detail: string }[]
    const conflictRows = details.filter((d) => !/ conflicts=0$/.test(d.detail)).length
    if (conflictRows > 0)
      throw new Error(`${conflictRows} rotation audit rows report conflicts`)
    const chain = await timed('audit chain verified', () =>
      verifyAuditChain(db, auditKey),
    )
    if (!chain.ok) throw new Error('the audit chain does not verify')
    const checkMs = performance.now() - checkStart
    admin.close()

    // ---- Numbers ----
    const summary = {
      startedAt,
      commit: gitCommit(),
      server,
      cpus: availableParallelism(),
      loadAverageStart: loadStart.map((l) => Number(l.toFixed(2))),
      loadAverageEnd: loadavg().map((l) => Number(l.toFixed(2))),
      patients: o.patients,
      declaredRows: pop.rowIds.length,
      indexedRows: totalRows,
      setupMs: Math.round(setupMs),
      phasesMs: Object.fromEntries(
        Object.entries(times).map(([k, v]) => [k, Math.round(v)]),
      ),
      kills: kills.map((k) => ({ ...k, ms: Math.round(k.ms) })),
      lastRun: { patients: result.patients, rows: result.rows, ms: Math.round(last.ms) },
      rebuildMs: Math.round(rebuildMs),
      rowsPerSecond: Math.round(totalRows / (rebuildMs / 1000)),
      upgradeRowsPerSecond: Math.round(
        upgrade.rows /
          ((times['rebuild under the old key (upgrade, not killed)'] ?? 1) / 1000),
      ),
      stageOneQueries: stageOne.queries,
      apiSearches: (kills.length * 2 * Math.ceil(o.sample / 2) + 2 * sample.length) * 5,
      concurrentSearches: kills.reduce((s, k) => s + k.concurrentSearches, 0) * 5,
      auditRows: chain.rows,
      checkMs: Math.round(checkMs),
      totalMs: Math.round(performance.now() - started),
    }
    console.log('\n' + JSON.stringify(summary, null, 2))
    const dir = `${ROOT}bench-results`
    mkdirSync(dir, { recursive: true })
    const file = `${dir}/scale-search-rotation-${startedAt.replace(/[:.]/g, '-')}.json`
    writeFileSync(file, JSON.stringify(summary, null, 2) + '\n')
    console.log(`written ${file}`)
  } finally {
    if (o.keep) await bench.close()
    else await bench.drop()
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err))
  process.exitCode = 1
})
