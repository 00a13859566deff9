import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { performance } from 'node:perf_hooks'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { newRowId, rowIdFromString } from '../../src/db/row-id.js'
import { createVault } from '../../src/index.js'
import { candidateRowsQuery } from '../../src/repositories/search.repository.js'
import { PATIENTS } from '../../src/schema/chart-tables.js'
import {
  deriveTableIndexKeys,
  indexColumnValues,
  partsOf,
} from '../../src/schema/index-values.js'
import type { DeclaredIndex } from '../../src/schema/search-indexes.js'
import { decodeDeclaredRow } from '../../src/services/declared-rows.service.js'
import { findMatches } from '../../src/services/search.service.js'
import type { Demographics } from '../../src/services/domain.js'
import { inTransaction } from '../../src/services/transaction.js'
import { executeWrite, selectRows, type Executor } from '../../src/sql/prepared.js'
import { benchSession, insertRows } from './fixtures.js'
import {
  compare,
  fmt,
  interleaveSteps,
  percentile,
  type Comparison,
  type SteppedVariant,
  profileStatements,
  statementsOf,
} from './harness.js'
import type { Scenario } from './scenario.js'

/**
 * Scenario 8: finding a patient (docs/search.md) by an exact index (national
 * id) and by a coarse one (date of birth + surname initial, 16 bits), at
 * several population sizes, against the same lookup on a plaintext table with
 * ordinary indexes, in the same database and run.
 *
 * The population: `searchPatients` real patients made through the vault
 * (session.createPatient: sealed, indexed, granted to the bench user), then
 * synthetic rows bulk-inserted into `patients` up to each size. A synthetic row
 * has the index values a real one with its (generated) name, date of birth and
 * national id would have — computed in Node by indexColumnValues under the
 * run's search key — so coarse buckets fill at the real density; its envelope
 * columns are random bytes of an envelope's length, never opened: the bench
 * user holds no grant for them, so a search counts them in `elsewhere`.
 * The same rows, in clear, are in `bench_patients_plain`.
 */

const PLAIN_PATIENTS = 'bench_patients_plain'
const PLAIN_SEARCH_AUDIT = 'bench_plain_search_audit'
/** Rows per multi-row INSERT of synthetic patients. */
const LOAD_BATCH = 1000
/** Real patients per coarse group: three true matches and two colliding decoys. */
const TRUE_MATCHES = 3
const DECOYS = 2
const GROUP = TRUE_MATCHES + DECOYS
/** Dates of birth are drawn from 100 years, as the index's estimate assumes. */
const FIRST_DAY = Date.UTC(1925, 0, 1)
const DAYS = 36_525

const GIVEN = [
  'Amira',
  'Ben',
  'Chloe',
  'Dev',
  'Elena',
  'Farid',
  'Grace',
  'Hugo',
  'Ines',
  'Jonas',
  'Kemi',
  'Liam',
  'Maya',
  'Noah',
  'Olga',
  'Priya',
  'Quentin',
  'Rosa',
  'Sami',
  'Tara',
]
const SYLLABLES = [
  'ka',
  'mo',
  'ren',
  'li',
  'vos',
  'tan',
  'bel',
  'dor',
  'shi',
  'ul',
  'fa',
  'ne',
]
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'

/** A small deterministic PRNG (mulberry32), so every run draws the same population. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function pickOf<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!
}

function surname(rand: () => number, initial?: string): string {
  const first = initial ?? pickOf(rand, [...LETTERS])
  const n = 1 + Math.floor(rand() * 3)
  let s = first
  for (let i = 0; i < n; i++) s += pickOf(rand, SYLLABLES)
  return s
}

function dateOf(day: number): string {
  return new Date(FIRST_DAY + day * 86_400_000).toISOString().slice(0, 10)
}

/** The lookups alone, compared with the plaintext SELECT (the rest: whole searches). */
const SQL_VARIANTS = new Set(['plaintext', 'stage-one', 'lookup'])

/** What the plaintext system indexes with the date of birth: the surname's initial, folded. */
function initialOf(fullName: string): string {
  return fullName.trim().split(/\s+/).at(-1)!.slice(0, 1).toLowerCase()
}

/** An envelope's length for `plaintextBytes` (header 5 + IV 16 + AES blocks + tag 32). */
function envelopeLike(plaintextBytes: number): Buffer {
  return randomBytes(5 + 16 + (Math.floor(plaintextBytes / 16) + 1) * 16 + 32)
}

interface Person {
  readonly fullName: string
  readonly dateOfBirth: string
  readonly sex: string
  readonly nationalId: string
}

interface CoarseGroup {
  readonly dateOfBirth: string
  /** A surname with the group's initial: what a desk types. */
  readonly surname: string
}

async function createSearchTables(db: Knex): Promise<void> {
  await db.schema.createTable(PLAIN_PATIENTS, (t) => {
    t.engine('InnoDB')
    t.charset('utf8mb4')
    t.collate('utf8mb4_bin')
    t.specificType('id', 'BINARY(16)').notNullable().primary()
    t.specificType('created_by', 'BINARY(16)').notNullable()
    t.specificType('created_at', 'DATETIME(3)').notNullable().defaultTo(db.fn.now(3))
    t.string('full_name', 200).notNullable()
    t.date('date_of_birth').notNullable()
    t.string('surname_initial', 4).notNullable()
    t.string('sex', 16).nullable()
    t.string('national_id', 64).nullable()
    t.unique(['national_id'], { indexName: `${PLAIN_PATIENTS}_national_id` })
    t.index(['date_of_birth', 'surname_initial'], `${PLAIN_PATIENTS}_birth_initial`)
  })
  await db.schema.createTable(PLAIN_SEARCH_AUDIT, (t) => {
    t.engine('InnoDB')
    t.bigIncrements('seq').primary()
    t.specificType('occurred_at', 'DATETIME(3)').notNullable().defaultTo(db.fn.now(3))
    t.specificType('actor_user_id', 'BINARY(16)').notNullable()
    t.string('action', 40).notNullable()
    t.specificType('patient_id', 'BINARY(16)').nullable()
    t.string('detail', 200).nullable()
    t.index(['patient_id', 'seq'], `${PLAIN_SEARCH_AUDIT}_by_patient`)
    t.index(['actor_user_id', 'action', 'occurred_at'], `${PLAIN_SEARCH_AUDIT}_by_actor`)
  })
}

function plainRow(id: Buffer, createdBy: Buffer, p: Person): Record<string, unknown> {
  return {
    id,
    created_by: createdBy,
    full_name: p.fullName,
    date_of_birth: p.dateOfBirth,
    surname_initial: initialOf(p.fullName),
    sex: p.sex,
    national_id: p.nationalId,
  }
}

const PLAIN_COLUMNS = ['id', 'full_name', 'date_of_birth', 'sex', 'national_id']

/**
 * A plaintext system's audited search: the SELECT on its index and one INSERT
 * into its access log (a row for the search and one per patient it returns,
 * as emr-vault records them), in one transaction.
 */
function plainSearch(
  db: Knex,
  actor: Buffer,
  what: string,
  where: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
): Promise<Record<string, unknown>[]> {
  return inTransaction(db, async (trx) => {
    const rows = await plainSelect(trx, where)
    await executeWrite(
      trx,
      trx(PLAIN_SEARCH_AUDIT).insert([
        {
          actor_user_id: actor,
          action: 'search',
          detail: `${what}: ${rows.length} found`,
        },
        ...rows.map((r) => ({
          actor_user_id: actor,
          action: 'patient.read',
          patient_id: r['id'],
          detail: `via search ${what}`,
        })),
      ]),
      'bench plain search audit',
    )
    return rows
  })
}

/**
 * For information, not a baseline: a plaintext system that follows emr-vault's
 * procedure statement by statement — lock the user row, count the user's recent
 * searches, the SELECT, then one log INSERT per row (the search, each patient
 * returned) — without any cryptography or MAC chain.
 */
function plainProcedural(
  db: Knex,
  actor: Buffer,
  windowMs: number,
  what: string,
  where: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
): Promise<Record<string, unknown>[]> {
  return inTransaction(db, async (trx) => {
    await selectRows(
      trx,
      trx('users').select('*').where({ id: actor }).forUpdate(),
      'bench lock user',
    )
    await selectRows(
      trx,
      trx(PLAIN_SEARCH_AUDIT)
        .count({ n: '*' })
        .where({ actor_user_id: actor, action: 'search' })
        .where(
          'occurred_at',
          '>',
          trx.raw('SYSDATE(3) - INTERVAL ? MICROSECOND', [windowMs * 1000]),
        ),
      'bench plain count',
    )
    const rows = await plainSelect(trx, where)
    for (const r of rows) {
      await executeWrite(
        trx,
        trx(PLAIN_SEARCH_AUDIT).insert({
          actor_user_id: actor,
          action: 'patient.read',
          patient_id: r['id'],
          detail: `via search ${what}`,
        }),
        'bench plain read audit',
      )
    }
    await executeWrite(
      trx,
      trx(PLAIN_SEARCH_AUDIT).insert({
        actor_user_id: actor,
        action: 'search',
        detail: `${what}: ${rows.length} found`,
      }),
      'bench plain search audit',
    )
    return rows
  })
}

function plainSelect(
  db: Executor,
  where: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
): Promise<Record<string, unknown>[]> {
  return selectRows<Record<string, unknown>>(
    db,
    where(db(PLAIN_PATIENTS).select(PLAIN_COLUMNS)),
    'bench plain search',
  )
}

export const searchScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const sizes = [...opts.searchSizes].sort((a, b) => a - b)
  const real = opts.searchPatients
  const b0 = await bench.fresh()
  await createSearchTables(b0.db)
  // The run's own limits: a bench user searches thousands of times a minute.
  // The window is kept short so that the per-user count (an index range of this
  // user's recent `search` audit rows) stays near the size production's default
  // allows (60 per minute), rather than growing with the length of the run.
  const windowMs = 500
  const vault = createVault({
    db: b0.db,
    recoveryPublicKey: b0.recovery.publicKey,
    auditKey: b0.auditKey,
    searchKey: b0.searchKey,
    kdfPolicy: TEST_KDF_POLICY,
    searchLimits: { perSession: 1e9, perUser: 1e9, windowMs },
  })
  const b = { ...b0, vault }
  const { session, user } = await benchSession(b, 'bench-search')
  const actor = user.userIdBytes
  const keys = deriveTableIndexKeys(b.searchKey, PATIENTS)
  const coarse = PATIENTS.indexes.find((i) => i.name === 'byBirthAndInitial')!
  const bucketOf = (dateOfBirth: string, fullName: string) =>
    indexColumnValues([coarse], keys, { dateOfBirth, fullName })[coarse.column] as number

  // Coarse groups: a (date of birth, initial) with two other pairs that fall in
  // the same 16-bit bucket, found by drawing pairs until buckets repeat.
  const groupCount = Math.max(1, Math.floor(real / GROUP))
  const rand = prng(12)
  const seen = new Map<number, { day: number; initial: string }[]>()
  const groups: { truth: CoarseGroup; decoys: { day: number; initial: string }[] }[] = []
  while (groups.length < groupCount) {
    const day = Math.floor(rand() * DAYS)
    const initial = pickOf(rand, [...LETTERS])
    const bucket = bucketOf(dateOf(day), `X ${initial}`)
    const pairs = seen.get(bucket) ?? []
    if (pairs.some((p) => p.day === day && p.initial === initial)) continue
    pairs.push({ day, initial })
    seen.set(bucket, pairs)
    if (pairs.length === 1 + DECOYS) {
      const [t, ...decoys] = pairs
      groups.push({
        truth: { dateOfBirth: dateOf(t!.day), surname: surname(rand, t!.initial) },
        decoys,
      })
    }
  }

  // The real patients: each group's true matches (same date and initial, other
  // names) and its decoys (another date or initial, the same bucket).
  const people: Person[] = []
  let nid = 0
  const person = (fullName: string, dateOfBirth: string): Person => ({
    fullName,
    dateOfBirth,
    sex: rand() < 0.5 ? 'female' : 'male',
    nationalId: `RP ${String(100_000_000 + nid++)}`,
  })
  for (const g of groups) {
    const initial = g.truth.surname[0]!
    for (let k = 0; k < TRUE_MATCHES; k++) {
      people.push(
        person(`${pickOf(rand, GIVEN)} ${surname(rand, initial)}`, g.truth.dateOfBirth),
      )
    }
    for (const d of g.decoys) {
      people.push(
        person(`${pickOf(rand, GIVEN)} ${surname(rand, d.initial)}`, dateOf(d.day)),
      )
    }
  }
  while (people.length < real) {
    people.push(
      person(
        `${pickOf(rand, GIVEN)} ${surname(rand)}`,
        dateOf(Math.floor(rand() * DAYS)),
      ),
    )
  }
  log(`search: ${people.length} real patients through session.createPatient`)
  const realIds: Buffer[] = []
  for (const p of people) {
    const id = await session.createPatient(p satisfies Demographics)
    realIds.push(rowIdFromString(id, 'patientId'))
  }
  await insertRows(
    b.db,
    PLAIN_PATIENTS,
    people.map((p, i) => plainRow(realIds[i]!, actor, p)),
  )

  const statements = {
    exact: await statementsOf(() =>
      session.searchPatients('byNationalId', { nationalId: people[0]!.nationalId }),
    ),
    coarse: await statementsOf(() =>
      session.searchPatients('byBirthAndInitial', {
        dateOfBirth: groups[0]!.truth.dateOfBirth,
        fullName: groups[0]!.truth.surname,
      }),
    ),
  }

  // Where a search's time goes, by statement: the real patients searched once
  // more each, profiled (at the smallest size: the statements do not grow with it).
  const profileOf = async (search: (k: number) => Promise<unknown>, n: number) => {
    const profile = await profileStatements(async () => {
      for (let k = 0; k < n; k++) await search(k)
    })
    const total = profile.reduce((sum, p) => sum + p.ms, 0)
    return `${fmt(total / n)} ms per search: ${profile.map((p) => `${p.op} ${fmt(p.ms / n)}`).join(', ')}`
  }
  const profiles = {
    exact: await profileOf(
      (k) =>
        session.searchPatients('byNationalId', { nationalId: people[k]!.nationalId }),
      people.length,
    ),
    coarse: await profileOf(
      (k) =>
        session.searchPatients('byBirthAndInitial', {
          dateOfBirth: groups[k]!.truth.dateOfBirth,
          fullName: groups[k]!.truth.surname,
        }),
      groups.length,
    ),
  }

  // Synthetic rows, up to each size in turn.
  let population = people.length
  let synthetic = 0
  const grow = async (to: number) => {
    const t0 = performance.now()
    const from = population
    while (population < to) {
      const n = Math.min(LOAD_BATCH, to - population)
      const vaultRows: Record<string, unknown>[] = []
      const plainRows: Record<string, unknown>[] = []
      for (let k = 0; k < n; k++) {
        const p: Person = {
          fullName: `${pickOf(rand, GIVEN)} ${surname(rand)}`,
          dateOfBirth: dateOf(Math.floor(rand() * DAYS)),
          sex: rand() < 0.5 ? 'female' : 'male',
          nationalId: `SY ${String(100_000_000 + synthetic++)}`,
        }
        const id = newRowId()
        vaultRows.push({
          id,
          current_key_version: 1,
          created_by: actor,
          full_name_enc: envelopeLike(Buffer.byteLength(p.fullName)),
          date_of_birth_enc: envelopeLike(10),
          sex_enc: envelopeLike(p.sex.length),
          national_id_enc: envelopeLike(p.nationalId.length),
          ...indexColumnValues(
            PATIENTS.indexes,
            keys,
            p as unknown as Record<string, unknown>,
          ),
        })
        plainRows.push(plainRow(id, actor, p))
      }
      await insertRows(b.db, 'patients', vaultRows, LOAD_BATCH)
      await insertRows(b.db, PLAIN_PATIENTS, plainRows, LOAD_BATCH)
      population += n
    }
    await b.db.raw(`ANALYZE TABLE patients, ${PLAIN_PATIENTS}`)
    const s = (performance.now() - t0) / 1000
    log(
      `search: ${from.toLocaleString('en-GB')} → ${to.toLocaleString('en-GB')} patients loaded in ${fmt(s)} s`,
    )
    return s
  }

  const steps = new Map<string, number[]>()
  const run = (what: string, variants: SteppedVariant[]) => {
    steps.clear()
    log(`search ${what}: ${opts.searches} per variant per round`)
    return interleaveSteps({
      variants,
      rounds: opts.rounds,
      warmup: opts.warmup,
      steps: () => opts.searches,
      units: () => opts.searches,
      log,
      onStep: (id, ms) => {
        const s = steps.get(id) ?? []
        s.push(ms)
        steps.set(id, s)
      },
    })
  }
  const p5095 = (variants: readonly { id: string }[]) =>
    'p50/p95 ms per search: ' +
    variants
      .map((v) => {
        const s = steps.get(v.id) ?? []
        return `${v.id} ${fmt(percentile(s, 50))}/${fmt(percentile(s, 95))}`
      })
      .join(', ')
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) throw new Error(`${what}: ${got} rows, expected ${want}`)
  }
  const atLeast = (what: string, got: number, want: number) => {
    if (got < want) throw new Error(`${what}: ${got} rows, expected at least ${want}`)
  }

  const comparisons: Comparison[] = []
  const exactBySize: { n: number; samples: number[] }[] = []
  const loadSeconds: string[] = []
  const pickPerson = (round: number, i: number) => (round * 37 + i * 7) % people.length
  const pickGroup = (round: number, i: number) => (round * 13 + i) % groups.length
  const byNationalId = PATIENTS.indexes.find((i) => i.name === 'byNationalId')!
  // The service's own stages one and two (findMatches), outside a transaction
  // and without audit or limits: the lookup the issue compares with a plaintext
  // SELECT of the row.
  const lookup = (index: DeclaredIndex, values: Record<string, unknown>) =>
    findMatches(
      b.db,
      user,
      PATIENTS,
      index,
      [indexColumnValues([index], keys, values)[index.column]!],
      partsOf(index, values)!,
      (row) => decodeDeclaredRow(PATIENTS, row as never) as Record<string, unknown>,
    )
  for (const n of sizes) {
    if (n < population)
      throw new Error(`--search-sizes: ${n} is below the ${population} real patients`)
    loadSeconds.push(`${n.toLocaleString('en-GB')}: ${fmt(await grow(n))} s`)
    const N = n.toLocaleString('en-GB')
    let elsewhere = 0
    let coarseSearches = 0

    // --- exact: national id of a real patient --------------------------------
    const exact: SteppedVariant[] = [
      {
        id: 'plaintext',
        label: `plaintext SELECT by national_id (UNIQUE), ${N} patients (baseline)`,
        step: async (round, i) =>
          expect(
            'plain exact',
            (
              await plainSelect(b.db, (q) =>
                q.where('national_id', people[pickPerson(round, i)]!.nationalId),
              )
            ).length,
            1,
          ),
      },
      {
        id: 'stage-one',
        label: 'emr-vault stage one alone: SELECT id WHERE bidx_by_national_id IN (?)',
        step: async (round, i) => {
          const value = indexColumnValues([byNationalId], keys, {
            nationalId: people[pickPerson(round, i)]!.nationalId,
          })[byNationalId.column]!
          expect(
            'stage one exact',
            (
              await selectRows(
                b.db,
                candidateRowsQuery(b.db, PATIENTS, byNationalId, [value], 1001),
                'bench stage one',
              )
            ).length,
            1,
          )
        },
      },
      {
        id: 'lookup',
        label:
          'emr-vault lookup, stages one and two: index joined with grants, the granted row opened and compared (autocommit)',
        step: async (round, i) =>
          expect(
            'lookup exact',
            (
              await lookup(byNationalId, {
                nationalId: people[pickPerson(round, i)]!.nationalId,
              })
            ).rows.length,
            1,
          ),
      },
      {
        id: 'plain-audited',
        label: 'plaintext SELECT + access-log INSERT, one transaction (baseline)',
        step: async (round, i) =>
          expect(
            'plain audited exact',
            (
              await plainSearch(b.db, actor, 'byNationalId', (q) =>
                q.where('national_id', people[pickPerson(round, i)]!.nationalId),
              )
            ).length,
            1,
          ),
      },
      {
        id: 'plain-procedural',
        label:
          'for information: plaintext, same steps (lock user, count, SELECT, log INSERT per row)',
        step: async (round, i) =>
          expect(
            'plain procedural exact',
            (
              await plainProcedural(b.db, actor, windowMs, 'byNationalId', (q) =>
                q.where('national_id', people[pickPerson(round, i)]!.nationalId),
              )
            ).length,
            1,
          ),
      },
      {
        id: 'session',
        label: "emr-vault session.searchPatients('byNationalId')",
        step: async (round, i) => {
          const r = await session.searchPatients('byNationalId', {
            nationalId: people[pickPerson(round, i)]!.nationalId,
          })
          expect('vault exact', r.rows.length, 1)
        },
      },
    ]
    const exactSamples = await run(`exact at ${N}`, exact)
    const sqlVariants = exact.filter((v) => SQL_VARIANTS.has(v.id))
    const serviceVariants = exact.filter((v) => !SQL_VARIANTS.has(v.id))
    const sqlNote = p5095(sqlVariants)
    const serviceNote = p5095(serviceVariants)
    comparisons.push(
      compare({
        id: `search.exact.${n}`,
        title: `exact search by national id, ${N} patients: session.searchPatients vs plaintext SELECT + log INSERT in a transaction`,
        unit: 'ms/search',
        baseline: 'plain-audited',
        variants: serviceVariants,
        samples: exactSamples,
        notes: [
          serviceNote,
          'emr-vault: lock the user row, count recent searches (rate limit), stage one, grant lookup, open the one row in SQL, compare, audit (search row + read row, MAC chain); the plaintext log is one multi-row INSERT of the same two rows.',
        ],
      }),
      compare({
        id: `search.exact-sql.${n}`,
        title: `exact lookup by national id, ${N} patients: stage one, and stages one and two, vs the plaintext SELECT of the row (autocommit)`,
        unit: 'ms/lookup',
        baseline: 'plaintext',
        variants: sqlVariants,
        samples: exactSamples,
        notes: [
          sqlNote,
          'The plaintext SELECT reads the row; stage one reads ids only; the lookup (findMatches) is what searchPatients does between its rate-limit check and its audit: the index joined with the grants, then the row opened (one statement each).',
        ],
      }),
    )
    exactBySize.push({ n, samples: exactSamples.get('session')! })

    // --- coarse: date of birth + surname initial ---------------------------
    const query = (round: number, i: number) => {
      const g = groups[pickGroup(round, i)]!.truth
      return { dateOfBirth: g.dateOfBirth, fullName: g.surname }
    }
    const coarseVariants: SteppedVariant[] = [
      {
        id: 'plaintext',
        label: `plaintext SELECT by (date_of_birth, surname_initial), ${N} patients (baseline)`,
        step: async (round, i) => {
          const q = query(round, i)
          atLeast(
            'plain coarse',
            (
              await plainSelect(b.db, (w) =>
                w.where({
                  date_of_birth: q.dateOfBirth,
                  surname_initial: initialOf(q.fullName),
                }),
              )
            ).length,
            TRUE_MATCHES,
          )
        },
      },
      {
        id: 'stage-one',
        label:
          'emr-vault stage one alone: SELECT id WHERE bidx_by_birth_and_initial IN (?)',
        step: async (round, i) => {
          const q = query(round, i)
          atLeast(
            'stage one coarse',
            (
              await selectRows(
                b.db,
                candidateRowsQuery(
                  b.db,
                  PATIENTS,
                  coarse,
                  [bucketOf(q.dateOfBirth, q.fullName)],
                  1001,
                ),
                'bench stage one',
              )
            ).length,
            GROUP,
          )
        },
      },
      {
        id: 'lookup',
        label:
          'emr-vault lookup, stages one and two: index joined with grants, 5 granted candidates opened in one statement, 2 dropped (autocommit)',
        step: async (round, i) =>
          expect(
            'lookup coarse',
            (await lookup(coarse, query(round, i))).rows.length,
            TRUE_MATCHES,
          ),
      },
      {
        id: 'plain-audited',
        label: 'plaintext SELECT + access-log INSERT, one transaction (baseline)',
        step: async (round, i) => {
          const q = query(round, i)
          atLeast(
            'plain audited coarse',
            (
              await plainSearch(b.db, actor, 'byBirthAndInitial', (w) =>
                w.where({
                  date_of_birth: q.dateOfBirth,
                  surname_initial: initialOf(q.fullName),
                }),
              )
            ).length,
            TRUE_MATCHES,
          )
        },
      },
      {
        id: 'plain-procedural',
        label:
          'for information: plaintext, same steps (lock user, count, SELECT, log INSERT per row)',
        step: async (round, i) => {
          const q = query(round, i)
          atLeast(
            'plain procedural coarse',
            (
              await plainProcedural(b.db, actor, windowMs, 'byBirthAndInitial', (w) =>
                w.where({
                  date_of_birth: q.dateOfBirth,
                  surname_initial: initialOf(q.fullName),
                }),
              )
            ).length,
            TRUE_MATCHES,
          )
        },
      },
      {
        id: 'session',
        label: "emr-vault session.searchPatients('byBirthAndInitial'), stage two",
        step: async (round, i) => {
          const r = await session.searchPatients('byBirthAndInitial', query(round, i))
          expect('vault coarse', r.rows.length, TRUE_MATCHES)
          elsewhere += r.elsewhere.patients
          coarseSearches++
        },
      },
    ]
    const coarseSamples = await run(`coarse at ${N}`, coarseVariants)
    const coarseSql = coarseVariants.filter((v) => SQL_VARIANTS.has(v.id))
    const coarseService = coarseVariants.filter((v) => !SQL_VARIANTS.has(v.id))
    comparisons.push(
      compare({
        id: `search.coarse.${n}`,
        title: `coarse search by date of birth + surname initial (16 bits), ${N} patients: session.searchPatients vs plaintext SELECT + log INSERT in a transaction`,
        unit: 'ms/search',
        baseline: 'plain-audited',
        variants: coarseService,
        samples: coarseSamples,
        notes: [
          p5095(coarseService),
          `Each search: ${TRUE_MATCHES} granted true matches returned, ${DECOYS} granted decoys (same bucket, another date or initial) opened and dropped in stage two, ` +
            `${fmt(elsewhere / Math.max(1, coarseSearches))} synthetic patients per search counted in elsewhere (mean); audit: search row + ${TRUE_MATCHES} read rows on both sides.`,
        ],
      }),
      compare({
        id: `search.coarse-sql.${n}`,
        title: `coarse lookup, ${N} patients: stage one, and stages one and two, vs the plaintext SELECT of the rows (autocommit)`,
        unit: 'ms/lookup',
        baseline: 'plaintext',
        variants: coarseSql,
        samples: coarseSamples,
        notes: [p5095(coarseSql)],
      }),
    )
  }

  // Flatness: the exact search's own time at each size (not interleaved across
  // sizes: each size was measured after its load, so drift is not shared).
  if (exactBySize.length > 1) {
    const ids = exactBySize.map(({ n }) => ({
      id: `n-${n}`,
      label: `session exact search at ${n.toLocaleString('en-GB')} patients`,
    }))
    comparisons.push(
      compare({
        id: 'search.exact.sizes',
        title:
          'exact search by national id: session.searchPatients time by population size',
        unit: 'ms/search',
        baseline: ids[0]!.id,
        variants: ids,
        samples: new Map(exactBySize.map(({ n, samples }) => [`n-${n}`, samples])),
        notes: [
          'Not interleaved: each size is measured after its rows are loaded, so machine drift between sizes is not shared; the ratio pairs round k of each size.',
        ],
      }),
    )
  }
  session.close()
  return {
    id: 'search',
    title: `Search patients: exact (national id) and coarse (date of birth + initial) at ${sizes.map((s) => s.toLocaleString('en-GB')).join(', ')} patients, vs a plaintext indexed table`,
    kdf: 'TEST_KDF_POLICY',
    comparisons,
    notes: [
      `${people.length} real patients (session.createPatient, granted to the bench user: ${groups.length} coarse groups of ${TRUE_MATCHES} true matches + ${DECOYS} decoys); the rest synthetic, bulk-inserted with real index values and random envelope bytes, never opened.`,
      `Synthetic load time (patients + plaintext twin): ${loadSeconds.join('; ')}.`,
      `searchPatients('byNationalId'): ${statements.exact}.`,
      `searchPatients('byBirthAndInitial'): ${statements.coarse}.`,
      `Profiled, ${people.length} exact searches before the synthetic rows: ${profiles.exact}.`,
      `Profiled, ${groups.length} coarse searches before the synthetic rows: ${profiles.coarse}.`,
      'Each profile entry is the time from that statement to the next (the statement, then the Node work after it); "(start)" is BEGIN and the work before the first statement; COMMIT is in the last statement\'s time.',
      `searchLimits for the run: perSession and perUser 1e9, windowMs ${windowMs} (the rate-limit count stays a short index range).`,
    ],
    seconds: (performance.now() - started) / 1000,
  }
}
