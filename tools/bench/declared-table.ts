import type { Knex } from 'knex'
import { performance } from 'node:perf_hooks'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { newRowId, rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import { createVault } from '../../src/index.js'
import {
  insertDeclaredRow,
  selectDeclaredRows,
  type RowQuery,
} from '../../src/repositories/declared-rows.repository.js'
import { encodeRow, type OpenedRow } from '../../src/schema/row-codec.js'
import { decodeDeclaredRow } from '../../src/services/declared-rows.service.js'
import { patientFieldKeys } from '../../src/services/patient-access.js'
import { inTransaction } from '../../src/services/transaction.js'
import type { SqlFieldKeys } from '../../src/sql/envelope-sql.js'
import { executeWrite, selectRows, type Executor } from '../../src/sql/prepared.js'
import {
  BENCH_MEDICATIONS,
  createDeclaredBenchTables,
  fromPlainRow,
  type Medication,
  type NewMedication,
  PLAIN_AUDIT,
  PLAIN_MEDICATION_COLUMNS,
  PLAIN_MEDICATIONS,
  plainMedicationRow,
  sampleMedication,
  sealedMedicationRow,
} from './declared-fixtures.js'
import {
  benchSession,
  createComparisonTables,
  insertRows,
  PLAIN_ACL,
  sampleDemographics,
  seedPatients,
  seedUserOf,
} from './fixtures.js'
import {
  compare,
  fmt,
  interleaveSteps,
  percentile,
  type Comparison,
  type SteppedVariant,
  statementsOf,
} from './harness.js'
import type { Scenario } from './scenario.js'

const decl = BENCH_MEDICATIONS
const PAGE = 50
/** The read patient's rows: ten pages, so keyset cursors walk a real index range. */
const PAGES = 10
/** Other patients around the read patient, so the index is not one patient's. */
const NEIGHBOURS = 10
const NEIGHBOUR_ROWS = 100

function orderedPage(after: RowQuery['after']): RowQuery {
  return {
    order: { column: 'ordered_at', direction: 'asc' },
    ...(after ? { after } : {}),
    limit: PAGE + 1,
  }
}

/** The plaintext twin of selectDeclaredRows: same filter, order, keyset and limit. */
function plainSelect(db: Executor, pid: Buffer, query: RowQuery): Knex.QueryBuilder {
  const q = db(`${PLAIN_MEDICATIONS} as m`)
    .select(PLAIN_MEDICATION_COLUMNS)
    .where('m.patient_id', pid)
  if (query.ids) q.whereIn('m.id', [...query.ids])
  const o = `m.${query.order?.column ?? 'created_at'}`
  if (query.after) {
    const { value, id } = query.after
    q.andWhere((w) =>
      w
        .where(o, '>', value as Knex.Value)
        .orWhere((w2) => w2.where(o, value as Knex.Value).andWhere('m.id', '>', id)),
    )
  }
  q.orderBy([{ column: o }, { column: 'm.id' }])
  if (query.limit !== undefined) q.limit(query.limit)
  return q
}

async function readPlain(
  db: Executor,
  pid: Buffer,
  query: RowQuery,
): Promise<Medication[]> {
  const rows = await selectRows<Record<string, unknown>>(
    db,
    plainSelect(db, pid, query),
    'bench read plain medications',
  )
  return rows.slice(0, PAGE).map(fromPlainRow)
}

/**
 * Diagnostic only, never the product: the page with each envelope decrypted
 * but its tag NOT verified, or not opened at all. Subtracting these from the
 * repository's read splits its cost into tag checks, AES and row size.
 */
function diagnosticSelect(
  db: Executor,
  pid: Buffer,
  after: RowQuery['after'],
  keys: SqlFieldKeys,
  open: 'decrypt' | 'none',
): Knex.QueryBuilder {
  const own = ['id', 'patient_id', 'created_at', 'updated_at', 'status', 'ordered_at']
  const q = db(`${decl.name} as t`)
    .select(own.map((c) => `t.${c}`))
    .where('t.patient_id', pid)
  for (const { column } of decl.encryptedFields) {
    const c = `t.\`${column}\``
    q.select(
      open === 'none'
        ? db.raw(`${c} AS \`${column}\``)
        : db.raw(
            `AES_DECRYPT(SUBSTRING(${c}, 22, LENGTH(${c}) - 53), ?, SUBSTRING(${c}, 6, 16)) AS \`${column}\``,
            [Buffer.from(keys.enc)],
          ),
    )
  }
  if (after) {
    q.andWhere((w) =>
      w
        .where('t.ordered_at', '>', after.value as Knex.Value)
        .orWhere((w2) =>
          w2
            .where('t.ordered_at', after.value as Knex.Value)
            .andWhere('t.id', '>', after.id),
        ),
    )
  }
  return q.orderBy([{ column: 't.ordered_at' }, { column: 't.id' }]).limit(PAGE + 1)
}

/** A plaintext system's audited act: access check (optional), the work, one log INSERT. */
async function plainAudited<T>(
  db: Knex,
  acl: { user: Buffer; pid: Buffer; forShare: boolean } | undefined,
  action: string,
  pid: Buffer,
  actor: Buffer,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return inTransaction(db, async (trx) => {
    if (acl) {
      const q = trx(`${PLAIN_ACL} as a`)
        .join('users as u', 'u.id', 'a.user_id')
        .whereNull('u.disabled_at')
        .where({ 'a.patient_id': acl.pid, 'a.user_id': acl.user })
        .select('a.granted_at')
      if (acl.forShare) q.forShare()
      const rows = await selectRows(trx, q, 'bench plain acl')
      if (rows.length !== 1) throw new Error('plain acl row missing')
    }
    const result = await work(trx)
    await executeWrite(
      trx,
      trx(PLAIN_AUDIT).insert({
        actor_user_id: actor,
        action,
        patient_id: pid,
        detail: decl.name,
      }),
      'bench plain audit',
    )
    return result
  })
}

function percentiles(
  steps: Map<string, number[]>,
  variants: readonly { id: string }[],
): string {
  return variants
    .map((v) => {
      const s = steps.get(v.id) ?? []
      return `${v.id} ${fmt(percentile(s, 50))}/${fmt(percentile(s, 95))}`
    })
    .join(', ')
}

/**
 * Scenario 7: an application's declared table (six encrypted columns of six
 * types, two plain) against the same table in plaintext: write one row, read
 * one row by id, read a 50-row keyset page ordered by a plain column. Each is
 * measured at two depths with its own baseline: the repository's SQL (seal and
 * open only) against plain SQL, and `session.table(decl)` (grant check,
 * transaction, audit row) against plain SQL with an audit INSERT in a transaction.
 */
export const declaredTableScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b0 = await bench.fresh()
  await createComparisonTables(b0.db)
  await createDeclaredBenchTables(b0.db)
  const vault = createVault({
    db: b0.db,
    recoveryPublicKey: b0.recovery.publicKey,
    auditKey: b0.auditKey,
    searchKey: b0.searchKey,
    kdfPolicy: TEST_KDF_POLICY,
    tables: [decl],
  })
  const b = { ...b0, vault }
  const { session, user } = await benchSession(b, 'bench-declared')
  const repo = session.table(decl)
  const actor = user.userIdBytes

  // The read patient and the write patient, made through the vault (their
  // subkeys are cached in the session, as after a first access); neighbours bulk-loaded.
  const readPatient = await session.createPatient(sampleDemographics(0))
  const writePatient = await session.createPatient(sampleDemographics(1))
  const rpid = rowIdFromString(readPatient, 'patientId')
  const wpid = rowIdFromString(writePatient, 'patientId')
  const neighbours = await seedPatients(b, {
    owner: seedUserOf(session),
    count: NEIGHBOURS,
  })
  await insertRows(
    b.db,
    PLAIN_ACL,
    [rpid, wpid].map((pid) => ({ patient_id: pid, user_id: actor, granted_by: actor })),
  )
  const load = async (pid: Buffer, count: number, from: number) => {
    const keys = await patientFieldKeys(b.db, user, pid)
    const meds = Array.from({ length: count }, (_, k) => sampleMedication(from + k))
    await insertRows(
      b.db,
      decl.name,
      meds.map((m) => sealedMedicationRow(b.db, newRowId(), pid, m, keys)),
    )
    await insertRows(
      b.db,
      PLAIN_MEDICATIONS,
      meds.map((m) => plainMedicationRow(newRowId(), pid, m)),
    )
  }
  await load(rpid, PAGE * PAGES, 0)
  for (const [k, n] of neighbours.entries()) {
    await load(n.idBytes, NEIGHBOUR_ROWS, 10_000 * (k + 1))
  }
  const keys = await patientFieldKeys(b.db, user, rpid)
  const wkeys = await patientFieldKeys(b.db, user, wpid)

  // Every page's keyset position, walked once in each store.
  const plainPages: RowQuery['after'][] = []
  const vaultPages: RowQuery['after'][] = []
  const sessionPages: (string | null)[] = [null]
  {
    let pAfter: RowQuery['after'] = undefined
    let vAfter: RowQuery['after'] = undefined
    for (let p = 0; p < PAGES; p++) {
      plainPages.push(pAfter)
      vaultPages.push(vAfter)
      const pRows: Record<string, unknown>[] = await selectRows<Record<string, unknown>>(
        b.db,
        plainSelect(b.db, rpid, orderedPage(pAfter)),
        'bench walk plain',
      )
      const vRows = await selectDeclaredRows(b.db, decl, rpid, keys, orderedPage(vAfter))
      const pLast = pRows[PAGE - 1]!
      const vLast = vRows[PAGE - 1]!
      pAfter = { value: pLast['ordered_at'], id: pLast['id'] as Buffer }
      vAfter = { value: vLast['ordered_at'], id: vLast.id }
      const page = await repo.list(readPatient, {
        orderBy: 'orderedAt',
        limit: PAGE,
        after: sessionPages[p] ?? null,
      })
      if (page.rows.length !== PAGE)
        throw new Error(`page ${p} has ${page.rows.length} rows`)
      sessionPages.push(page.next)
    }
  }
  const vaultIds = (
    await selectDeclaredRows(b.db, decl, rpid, keys, {
      order: { column: 'ordered_at', direction: 'asc' },
    })
  ).map((r) => r.id)
  const plainIds = (
    await selectRows<{ id: Buffer }>(
      b.db,
      b
        .db(PLAIN_MEDICATIONS)
        .select('id')
        .where('patient_id', rpid)
        .orderBy('ordered_at'),
      'bench plain ids',
    )
  ).map((r) => r.id)

  const statements = {
    get: await statementsOf(() => repo.get(readPatient, rowIdToString(vaultIds[0]!))),
    list: await statementsOf(() =>
      repo.list(readPatient, { orderBy: 'orderedAt', limit: PAGE }),
    ),
    insert: await statementsOf(() =>
      repo.insert(writePatient, sampleMedication(999_999)),
    ),
  }

  const steps = new Map<string, number[]>()
  const run = async (
    what: string,
    variants: SteppedVariant[],
    count: number,
  ): Promise<Map<string, number[]>> => {
    steps.clear()
    log(`declared ${what}: ${count} per variant per round`)
    return interleaveSteps({
      variants,
      rounds: opts.rounds,
      warmup: opts.warmup,
      steps: () => count,
      units: () => count,
      log,
      onStep: (id, ms) => {
        const s = steps.get(id) ?? []
        s.push(ms)
        steps.set(id, s)
      },
    })
  }
  const comparisons: Comparison[] = []
  const report = (
    id: string,
    title: string,
    unit: string,
    all: SteppedVariant[],
    samples: Map<string, number[]>,
    split: { repo: string[]; service: string[] },
    notes: { repo: string[]; service: string[] },
  ) => {
    for (const [depth, ids] of [
      ['repo', split.repo],
      ['service', split.service],
    ] as const) {
      const variants = ids.map((v) => all.find((a) => a.id === v)!)
      comparisons.push(
        compare({
          id: depth === 'repo' ? id : `${id}.session`,
          title:
            depth === 'repo'
              ? `${title}: repository SQL (seal/open only) vs plaintext SQL`
              : `${title}: session.table() (grant check + transaction + audit) vs plaintext + audit INSERT in a transaction`,
          unit,
          baseline: ids[0]!,
          variants,
          samples,
          notes: [
            ...notes[depth],
            `p50/p95 ms per operation: ${percentiles(steps, variants)}`,
          ],
        }),
      )
    }
  }

  // --- read one row by id ---------------------------------------------------
  const check = (rows: unknown[], n: number) => {
    if (rows.length !== n) throw new Error(`read ${rows.length} rows, expected ${n}`)
  }
  const pick = <T>(list: readonly T[], round: number, i: number): T =>
    list[(round * 37 + i * 7) % list.length]!
  const gets: SteppedVariant[] = [
    {
      id: 'plaintext',
      label: 'plaintext SELECT by id (baseline)',
      step: async (round, i) =>
        check(await readPlain(b.db, rpid, { ids: [pick(plainIds, round, i)] }), 1),
    },
    {
      id: 'envelope',
      label: 'emr-vault repository: SELECT, open 6 envelopes in SQL, decode',
      step: async (round, i) => {
        const rows = await selectDeclaredRows(b.db, decl, rpid, keys, {
          ids: [pick(vaultIds, round, i)],
        })
        check(
          rows.map((r) => decodeDeclaredRow(decl, r)),
          1,
        )
      },
    },
    {
      id: 'plain-audited',
      label: 'plaintext SELECT + audit INSERT, one transaction (baseline)',
      step: (round, i) =>
        plainAudited(b.db, undefined, 'row.read', rpid, actor, async (trx) =>
          check(await readPlain(trx, rpid, { ids: [pick(plainIds, round, i)] }), 1),
        ),
    },
    {
      id: 'plain-acl-audited',
      label: 'plaintext ACL check + SELECT + audit INSERT, one transaction',
      step: (round, i) =>
        plainAudited(
          b.db,
          { user: actor, pid: rpid, forShare: false },
          'row.read',
          rpid,
          actor,
          async (trx) =>
            check(await readPlain(trx, rpid, { ids: [pick(plainIds, round, i)] }), 1),
        ),
    },
    {
      id: 'no-audit',
      label: 'emr-vault: grant check + repository read, one transaction, no audit',
      step: (round, i) =>
        inTransaction(b.db, async (trx) => {
          const k = await patientFieldKeys(trx, user, rpid)
          const rows = await selectDeclaredRows(trx, decl, rpid, k, {
            ids: [pick(vaultIds, round, i)],
          })
          check(
            rows.map((r) => decodeDeclaredRow(decl, r)),
            1,
          )
        }),
    },
    {
      id: 'session',
      label: 'emr-vault session.table(decl).get (grant check + audit)',
      step: (round, i) => repo.get(readPatient, rowIdToString(pick(vaultIds, round, i))),
    },
  ]
  const getCount = opts.reads * 3
  const getSamples = await run('get', gets, getCount)
  report(
    'declared.get',
    'read one row by id',
    'ms/row',
    gets,
    getSamples,
    {
      repo: ['plaintext', 'envelope'],
      service: ['plain-audited', 'plain-acl-audited', 'no-audit', 'session'],
    },
    { repo: [], service: [`session.table().get: ${statements.get}.`] },
  )

  // --- read a 50-row page -----------------------------------------------------
  const pageOf = (round: number, i: number) => (round + i) % PAGES
  const decoded = (rows: OpenedRow[]) =>
    rows.slice(0, PAGE).map((r) => decodeDeclaredRow(decl, r))
  const pages: SteppedVariant[] = [
    {
      id: 'plaintext',
      label: 'plaintext keyset page SELECT (baseline)',
      step: async (round, i) =>
        check(
          await readPlain(b.db, rpid, orderedPage(plainPages[pageOf(round, i)])),
          PAGE,
        ),
    },
    {
      id: 'envelope',
      label: 'emr-vault repository: page, 300 envelopes opened in SQL, decoded',
      step: async (round, i) =>
        check(
          decoded(
            await selectDeclaredRows(
              b.db,
              decl,
              rpid,
              keys,
              orderedPage(vaultPages[pageOf(round, i)]),
            ),
          ),
          PAGE,
        ),
    },
    {
      id: 'sql-open',
      label: 'diagnostic: the repository page without the decode in Node',
      step: async (round, i) =>
        check(
          (
            await selectDeclaredRows(
              b.db,
              decl,
              rpid,
              keys,
              orderedPage(vaultPages[pageOf(round, i)]),
            )
          ).slice(0, PAGE),
          PAGE,
        ),
    },
    {
      id: 'decrypt-only',
      label: 'diagnostic: AES_DECRYPT only, tags NOT checked (never the product)',
      step: async (round, i) =>
        check(
          (
            await selectRows(
              b.db,
              diagnosticSelect(b.db, rpid, vaultPages[pageOf(round, i)], keys, 'decrypt'),
              'bench decrypt only',
            )
          ).slice(0, PAGE),
          PAGE,
        ),
    },
    {
      id: 'raw-envelopes',
      label: 'diagnostic: the envelopes as stored, not opened',
      step: async (round, i) =>
        check(
          (
            await selectRows(
              b.db,
              diagnosticSelect(b.db, rpid, vaultPages[pageOf(round, i)], keys, 'none'),
              'bench raw envelopes',
            )
          ).slice(0, PAGE),
          PAGE,
        ),
    },
    {
      id: 'plain-audited',
      label: 'plaintext page + audit INSERT, one transaction (baseline)',
      step: (round, i) =>
        plainAudited(b.db, undefined, 'row.list', rpid, actor, async (trx) =>
          check(
            await readPlain(trx, rpid, orderedPage(plainPages[pageOf(round, i)])),
            PAGE,
          ),
        ),
    },
    {
      id: 'plain-acl-audited',
      label: 'plaintext ACL check + page + audit INSERT, one transaction',
      step: (round, i) =>
        plainAudited(
          b.db,
          { user: actor, pid: rpid, forShare: false },
          'row.list',
          rpid,
          actor,
          async (trx) =>
            check(
              await readPlain(trx, rpid, orderedPage(plainPages[pageOf(round, i)])),
              PAGE,
            ),
        ),
    },
    {
      id: 'no-audit',
      label: 'emr-vault: grant check + repository page, one transaction, no audit',
      step: (round, i) =>
        inTransaction(b.db, async (trx) => {
          const k = await patientFieldKeys(trx, user, rpid)
          check(
            decoded(
              await selectDeclaredRows(
                trx,
                decl,
                rpid,
                k,
                orderedPage(vaultPages[pageOf(round, i)]),
              ),
            ),
            PAGE,
          )
        }),
    },
    {
      id: 'session',
      label: 'emr-vault session.table(decl).list (grant check + audit)',
      step: async (round, i) =>
        check(
          (
            await repo.list(readPatient, {
              orderBy: 'orderedAt',
              limit: PAGE,
              after: sessionPages[pageOf(round, i)] ?? null,
            })
          ).rows,
          PAGE,
        ),
    },
  ]
  const pageSamples = await run('page', pages, opts.reads)
  report(
    'declared.page',
    `read a ${PAGE}-row page (keyset, ordered by a plain DATETIME(3))`,
    'ms/page',
    pages,
    pageSamples,
    {
      repo: ['plaintext', 'envelope', 'sql-open', 'decrypt-only', 'raw-envelopes'],
      service: ['plain-audited', 'plain-acl-audited', 'no-audit', 'session'],
    },
    {
      repo: [
        'Both stores read LIMIT 51 (one look-ahead row, as list does) through the index (patient_id, ordered_at, id) and hand back 50 typed rows.',
        'Tag checks ≈ sql-open − decrypt-only; AES ≈ decrypt-only − raw-envelopes; Node decode ≈ envelope − sql-open.',
      ],
      service: [`session.table().list: ${statements.list}.`],
    },
  )

  // --- write one row ----------------------------------------------------------
  let counter = 1_000_000
  const writeCount = Math.max(1, Math.ceil(opts.records / 2))
  const writes = (
    id: string,
    label: string,
    insert: (m: NewMedication) => Promise<unknown>,
  ): SteppedVariant => {
    let batch: NewMedication[] = []
    return {
      id,
      label,
      prepare: () => {
        batch = Array.from({ length: writeCount }, () => sampleMedication(counter++))
      },
      step: (_round, i) => insert(batch[i]!),
    }
  }
  const plainInsert = (db: Executor, m: NewMedication) =>
    insertRows(db, PLAIN_MEDICATIONS, [plainMedicationRow(newRowId(), wpid, m)])
  const vaultInsert = (db: Executor, m: NewMedication, k: SqlFieldKeys) => {
    const { plain, encrypted } = encodeRow(decl, m, false)
    return insertDeclaredRow(
      db,
      decl,
      { id: newRowId(), patientId: wpid },
      plain,
      encrypted,
      k,
    )
  }
  const inserts: SteppedVariant[] = [
    writes('plaintext', 'plaintext INSERT, autocommit (baseline)', (m) =>
      plainInsert(b.db, m),
    ),
    writes(
      'envelope',
      'emr-vault repository: encode, INSERT sealing 6 envelopes in SQL',
      (m) => vaultInsert(b.db, m, wkeys),
    ),
    writes(
      'plain-audited',
      'plaintext INSERT + audit INSERT, one transaction (baseline)',
      (m) =>
        plainAudited(b.db, undefined, 'row.create', wpid, actor, (trx) =>
          plainInsert(trx, m),
        ),
    ),
    writes(
      'plain-acl-audited',
      'plaintext ACL check (FOR SHARE) + INSERT + audit INSERT, one transaction',
      (m) =>
        plainAudited(
          b.db,
          { user: actor, pid: wpid, forShare: true },
          'row.create',
          wpid,
          actor,
          (trx) => plainInsert(trx, m),
        ),
    ),
    writes(
      'no-audit',
      'emr-vault: grant check (FOR SHARE) + repository insert, one transaction, no audit',
      (m) =>
        inTransaction(b.db, async (trx) =>
          vaultInsert(trx, m, await patientFieldKeys(trx, user, wpid, true)),
        ),
    ),
    writes('session', 'emr-vault session.table(decl).insert (grant check + audit)', (m) =>
      repo.insert(writePatient, m),
    ),
  ]
  const writeSamples = await run('write', inserts, writeCount)
  report(
    'declared.write',
    'write one row',
    'ms/row',
    inserts,
    writeSamples,
    {
      repo: ['plaintext', 'envelope'],
      service: ['plain-audited', 'plain-acl-audited', 'no-audit', 'session'],
    },
    {
      repo: [],
      service: [
        'The emr-vault audit append is lock head + INSERT + UPDATE (a MAC chain); the plaintext log is one INSERT.',
        `session.table().insert: ${statements.insert}.`,
      ],
    },
  )

  session.close()
  return {
    id: 'declared',
    title: `Declared table: 6 encrypted columns (text, decimal, date, dateTime, integer, json) + 2 plain, vs the same table in plaintext`,
    kdf: 'TEST_KDF_POLICY',
    comparisons,
    notes: [
      `Read patient: ${PAGE * PAGES} rows (${PAGES} pages); ${NEIGHBOURS} other patients × ${NEIGHBOUR_ROWS} rows in the same tables.`,
    ],
    seconds: (performance.now() - started) / 1000,
  }
}
