import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { rowIdFromString } from '../../src/db/row-id.js'
import { RateLimitError, ValidationError } from '../../src/errors/index.js'
import { candidatesWithGrantsQuery } from '../../src/repositories/search.repository.js'
import { PATIENTS } from '../../src/schema/chart-tables.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import {
  deriveTableIndexKeys,
  indexColumnValues,
  searchValueOf,
} from '../../src/schema/index-values.js'
import { normalise } from '../../src/schema/normalisers.js'
import { searchIndex } from '../../src/schema/search-indexes.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, TEST_SEARCH_KEY, testVault } from '../support/vault-fixture.js'

/**
 * Two-stage search (docs/search.md) on a database of its own, so that every
 * count is this file's: an exact lookup by national id through its index, a
 * coarse one on data with collisions made on purpose, what a user without a
 * grant and a registrar are told, the audit rows, bad input and the limits.
 */

const referrals = defineTable({
  name: 'search_referrals',
  encrypted: {
    code: encrypted.text({ maxBytes: 40 }),
    note: encrypted.text({ maxBytes: 200, nullable: true }),
  },
  indexes: {
    byCode: searchIndex.exact({
      fields: { code: [normalise.lettersAndDigits, normalise.casefold] },
    }),
  },
})

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

const byBirthAndInitial = PATIENTS.indexes.find((i) => i.name === 'byBirthAndInitial')!
const patientKeys = deriveTableIndexKeys(TEST_SEARCH_KEY, PATIENTS)

/**
 * Two (date of birth, surname) pairs whose initials or dates differ but whose
 * byBirthAndInitial value is the same under the run's search key: about 300
 * tries for 16 bits (the birthday bound).
 */
function collidingPair(): [
  { dateOfBirth: string; fullName: string },
  { dateOfBirth: string; fullName: string },
] {
  const seen = new Map<number, { dateOfBirth: string; fullName: string }>()
  const start = Date.UTC(1940, 0, 1)
  for (let day = 0; day < 30_000; day++) {
    const dateOfBirth = new Date(start + day * 86_400_000).toISOString().slice(0, 10)
    for (const initial of 'BKMRT') {
      const values = { dateOfBirth, fullName: `Pat ${initial}ollins` }
      const v = indexColumnValues([byBirthAndInitial], patientKeys, values)[
        byBirthAndInitial.column
      ] as number
      const other = seen.get(v)
      if (other) return [other, values]
      seen.set(v, values)
    }
  }
  throw new Error('no collision found')
}

describe('search: two stages, by index then by grant', function () {
  this.timeout(120_000)
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let alice: Session
  let bob: Session
  let desk: Session
  const nationalId = `NHS ${Date.now() % 1_000_000_000} 77`

  before(async () => {
    db = own.db()
    await createEncryptedTable(db, referrals)
    ;({ vault } = testVault({ db, tables: [referrals] }))
    const [a, b, r] = [
      await registerTestUser(vault, 'search-alice'),
      await registerTestUser(vault, 'search-bob'),
      await registerTestUser(vault, 'search-desk', ['registrar']),
    ]
    alice = await vault.login(a.username, a.password)
    bob = await vault.login(b.username, b.password)
    desk = await vault.login(r.username, r.password)
  })
  after(() => {
    for (const s of [alice, bob, desk]) s?.close()
  })

  const searchRows = async (actor: Session) =>
    (await db('audit_log')
      .select('outcome', 'detail')
      .where({ actor_user_id: rowIdFromString(actor.userId, 'u'), action: 'search' })
      .orderBy('seq')) as { outcome: string; detail: string }[]

  it('exact: the national id, written any way, finds the one patient through its index; others learn a count', async () => {
    const patient = await alice.createPatient({
      fullName: 'Grace Hopper',
      dateOfBirth: '1906-12-09',
      nationalId,
    })
    await alice.createPatient({ fullName: 'Someone Else', dateOfBirth: '1950-01-01' })

    const typed = nationalId.toLowerCase().replace(/ /g, '-')
    const found = await alice.searchPatients('byNationalId', { nationalId: typed })
    expect(found.kind).to.equal('exact')
    expect(found.rows.map((p) => [p.id, p.fullName, p.nationalId])).to.deep.equal([
      [patient, 'Grace Hopper', nationalId],
    ])
    expect(found.elsewhere).to.deep.equal({ patients: 0, patientIds: null })

    // bob holds no grant: a count only; the desk (registrar) is told the id.
    expect(await bob.searchPatients('byNationalId', { nationalId })).to.deep.equal({
      index: 'byNationalId',
      kind: 'exact',
      rows: [],
      elsewhere: { patients: 1, patientIds: null },
    })
    expect(
      (await desk.searchPatients('byNationalId', { nationalId }, { exactOnly: true }))
        .elsewhere,
    ).to.deep.equal({ patients: 1, patientIds: [patient] })

    // One search row each: the index and the counts, never the value.
    expect(await searchRows(alice)).to.deep.equal([
      {
        outcome: 'success',
        detail: 'patients.byNationalId: 1 found, 0 dropped, 0 patients elsewhere',
      },
    ])
    const [read] = await db('audit_log')
      .select('action', 'patient_id', 'detail')
      .where({ actor_user_id: rowIdFromString(alice.userId, 'u') })
      .where('detail', 'like', '%via search%')
    expect(read).to.deep.equal({
      action: 'patient.read',
      patient_id: rowIdFromString(patient, 'p'),
      detail: 'patients via search byNationalId',
    })
  })

  it('exact: the lookup uses the unique index (EXPLAIN), and no searched value is stored anywhere', async () => {
    const value = searchValueOf(
      PATIENTS.indexes.find((i) => i.name === 'byNationalId')!,
      patientKeys.get('byNationalId')!,
      { nationalId },
    )
    const { sql, bindings } = candidatesWithGrantsQuery(
      db,
      PATIENTS,
      PATIENTS.indexes.find((i) => i.name === 'byNationalId')!,
      [value],
      rowIdFromString(alice.userId, 'u'),
      1001,
    )
      .toSQL()
      .toNative()
    // MySQL 9 explains as a tree by default; MariaDB has only the table.
    const [[{ v }]] = (await db.raw('SELECT VERSION() AS v')) as [[{ v: string }]]
    const explain = v.includes('MariaDB') ? 'EXPLAIN' : 'EXPLAIN FORMAT=TRADITIONAL'
    const [plan] = (await db.raw(`${explain} ${sql}`, bindings)) as [
      { table: string; key: string | null; type: string }[],
    ]
    // The searched table by the unique index; the grants joined by their keys.
    const searched = plan.find((r) => r.table === 't')
    expect([searched?.key, searched?.type]).to.deep.equal([
      'patients_bidx_by_national_id',
      'const',
    ])
    for (const r of plan.filter((r) => r.table !== 't')) {
      expect(r.key, `${r.table}: ${r.type}`).to.not.equal(null)
    }

    // A raw dump of every table: the id neither as typed nor normalised.
    const compact = nationalId.replace(/ /g, '')
    const needles = [nationalId, compact, compact.toLowerCase()]
    const tables = (await db.raw('SHOW TABLES'))[0] as Record<string, string>[]
    for (const t of tables.map((r) => Object.values(r)[0]!)) {
      const rows = (await db(t).select('*')) as Record<string, unknown>[]
      const text = rows
        .flatMap((row) => Object.values(row))
        .map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))
        .join('\n')
      for (const needle of needles) {
        expect(text.includes(needle), `${needle} in ${t}`).to.equal(false)
      }
    }
  })

  it('coarse: date of birth and initial find every true match and drop the colliding ones; the count outside is of candidates', async () => {
    const [wanted, colliding] = collidingPair()
    const matches = [
      await alice.createPatient({ ...wanted, fullName: `Ann ${wanted.fullName}` }),
      await alice.createPatient({ ...wanted, fullName: `Bo ${wanted.fullName}` }),
    ].sort()
    await alice.createPatient(colliding) // same index value, another date or initial
    // Outside alice's grants: one true match, one colliding candidate.
    await bob.createPatient(wanted)
    await bob.createPatient(colliding)

    const initial = wanted.fullName.split(' ')[1]!.slice(0, 1)
    const found = await alice.searchPatients('byBirthAndInitial', {
      dateOfBirth: wanted.dateOfBirth,
      fullName: initial.toLowerCase(),
    })
    expect(found.kind).to.equal('coarse')
    expect(found.rows.map((p) => p.id).sort()).to.deep.equal(matches)
    for (const p of found.rows) expect(p.dateOfBirth).to.equal(wanted.dateOfBirth)
    expect(found.elsewhere).to.deep.equal({ patients: 2, patientIds: null })
    expect((await searchRows(alice)).at(-1)).to.deep.equal({
      outcome: 'success',
      detail: 'patients.byBirthAndInitial: 2 found, 1 dropped, 2 patients elsewhere',
    })
    // A registrar is not told ids of candidates: they may be other people.
    expect(
      (
        await desk.searchPatients('byBirthAndInitial', {
          dateOfBirth: wanted.dateOfBirth,
          fullName: initial,
        })
      ).elsewhere,
    ).to.deep.equal({ patients: 5, patientIds: null })
  })

  it('an update moves the row in the index: found by the new value, not the old', async () => {
    const id = `QZ-${Date.now()}`
    const patient = await alice.createPatient({
      fullName: 'Moved Id',
      dateOfBirth: '1970-03-03',
      nationalId: id,
    })
    await alice.updatePatient(patient, { nationalId: `${id}-NEW` })
    expect(
      (await alice.searchPatients('byNationalId', { nationalId: id })).rows,
    ).to.deep.equal([])
    expect(
      (await alice.searchPatients('byNationalId', { nationalId: `${id}-new` })).rows.map(
        (p) => p.id,
      ),
    ).to.deep.equal([patient])
  })

  it("an application's table: rows of any granted patient by their code", async () => {
    const p1 = await alice.createPatient({
      fullName: 'Ref One',
      dateOfBirth: '1980-01-01',
    })
    const p2 = await alice.createPatient({
      fullName: 'Ref Two',
      dateOfBirth: '1981-01-01',
    })
    const table = alice.table(referrals)
    const r1 = await table.insert(p1, { code: 'REF-0042', note: 'first' })
    const r2 = await table.insert(p2, { code: 'ref 0042', note: null })
    await table.insert(p2, { code: 'REF-0043', note: null })
    const found = await table.search('byCode', { code: 'REF0042' })
    expect(found.rows.map((r) => [r.id, r.patientId, r.code]).sort()).to.deep.equal(
      [
        [r1, p1, 'REF-0042'],
        [r2, p2, 'ref 0042'],
      ].sort(),
    )
    expect(
      (await bob.table(referrals).search('byCode', { code: 'REF0042' })).elsewhere,
    ).to.deep.equal({
      patients: 2,
      patientIds: null,
    })
  })

  it('a registrar is told ids only by a unique index of the patients table, never of a clinical one', async () => {
    const p = await alice.createPatient({
      fullName: 'Ref Three',
      dateOfBirth: '1982-01-01',
    })
    await alice.table(referrals).insert(p, { code: 'B20', note: null })
    expect(
      (await desk.table(referrals).search('byCode', { code: 'b20' })).elsewhere,
    ).to.deep.equal({
      patients: 1,
      patientIds: null,
    })
    // byName is exact but not unique: names are shared, so it does not identify.
    expect(
      (await desk.searchPatients('byName', { fullName: 'ref three' })).elsewhere,
    ).to.deep.equal({ patients: 1, patientIds: null })
  })

  it('concurrent searches of one user count against its limit one after the other', async () => {
    const { vault: limited } = testVault({
      db,
      tables: [referrals],
      searchLimits: { perSession: 100, perUser: 3 },
    })
    const u = await registerTestUser(limited, 'search-parallel')
    const s = await limited.login(u.username, u.password)
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, () =>
          s.searchPatients('byNationalId', { nationalId }),
        ),
      )
      expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(3)
      for (const o of outcomes.filter((o) => o.status === 'rejected'))
        expect((o as PromiseRejectedResult).reason).to.be.instanceOf(RateLimitError)
    } finally {
      s.close()
    }
  })

  it('a search matching too many rows is refused, audited and counted', async () => {
    const p = await alice.createPatient({ fullName: 'Broad', dateOfBirth: '1983-01-01' })
    const index = referrals.indexes[0]!
    const value = searchValueOf(
      index,
      deriveTableIndexKeys(TEST_SEARCH_KEY, referrals).get('byCode')!,
      { code: 'COMMON' },
    )
    const [sample] = await db('search_referrals').select('*').limit(1)
    await db.batchInsert(
      'search_referrals',
      Array.from({ length: 1001 }, (_, i) => ({
        ...sample,
        id: rowIdFromString(
          `01a00000-0000-7000-8000-${String(i).padStart(12, '0')}`,
          'id',
        ),
        patient_id: rowIdFromString(p, 'p'),
        [index.column]: value,
      })),
      500,
    )
    const before = (await searchRows(bob)).length
    const err = await rejection(bob.table(referrals).search('byCode', { code: 'common' }))
    expect(err).to.be.instanceOf(ValidationError)
    expect((err as Error).message).to.include('more than 1000 rows')
    expect((await searchRows(bob)).slice(before)).to.deep.equal([
      { outcome: 'failure', detail: 'search_referrals.byCode: too_broad' },
    ])
  })

  it('bad input: a typed error naming the field, and no search row', async () => {
    const before = (await searchRows(alice)).length
    const cases: [Promise<unknown>, string][] = [
      [alice.searchPatients('byShoeSize', { nationalId }), 'index'],
      [alice.searchPatients('byNationalId', { nationalId: ' -./ ' }), 'nationalId'],
      [alice.searchPatients('byNationalId', {}), 'nationalId'],
      [alice.searchPatients('byNationalId', { fullName: 'x' }), 'fullName'],
      [
        alice.searchPatients(
          'byBirthAndInitial',
          { dateOfBirth: '1906-12-09', fullName: 'H' },
          { exactOnly: true },
        ),
        'index',
      ],
      [
        alice.searchPatients('byNationalId', { nationalId }, { exactly: true } as never),
        'exactly',
      ],
      [alice.searchPatients('byNationalId', null as never), 'query'],
      [alice.searchPatients('byName', { fullName: 'x'.repeat(1001) }), 'fullName'],
      [alice.searchPatients('byName', { fullName: 'a\ud800b' }), 'fullName'],
    ]
    for (const [promise, field] of cases) {
      const err = await rejection(promise)
      expect(err, field).to.be.instanceOf(ValidationError)
      expect((err as ValidationError).field, field).to.equal(field)
      expect((err as Error).message).to.not.include(nationalId)
    }
    expect((await searchRows(alice)).length).to.equal(before)
  })

  it('limits: per session in this process, per user across sessions; a refused search is audited as denied', async () => {
    const { vault: limited } = testVault({
      db,
      tables: [referrals],
      searchLimits: { perSession: 2, perUser: 4, windowMs: 60_000 },
    })
    const u = await registerTestUser(limited, 'search-limited')
    const one = await limited.login(u.username, u.password)
    const two = await limited.login(u.username, u.password)
    try {
      const q = () => ({ nationalId })
      await one.searchPatients('byNationalId', q())
      await one.searchPatients('byNationalId', q())
      const bySession = await rejection(one.searchPatients('byNationalId', q()))
      expect(bySession).to.be.instanceOf(RateLimitError)
      expect((bySession as RateLimitError).code).to.equal('RATE_LIMITED')
      expect((bySession as RateLimitError).retryAfterMs).to.be.within(1, 60_000)
      // The user has 3 search rows (one refused): the other session gets one more.
      await two.searchPatients('byNationalId', q())
      const byUser = await rejection(two.searchPatients('byNationalId', q()))
      expect(byUser).to.be.instanceOf(RateLimitError)
      expect((byUser as Error).message).to.include('limit 4')
      expect((await searchRows(one)).map((r) => [r.outcome, r.detail])).to.deep.equal([
        ['success', 'patients.byNationalId: 0 found, 0 dropped, 1 patients elsewhere'],
        ['success', 'patients.byNationalId: 0 found, 0 dropped, 1 patients elsewhere'],
        ['denied', 'rate_limited'],
        ['success', 'patients.byNationalId: 0 found, 0 dropped, 1 patients elsewhere'],
        ['denied', 'rate_limited'],
      ])
    } finally {
      one.close()
      two.close()
    }
  })

  it('a closed session cannot search', async () => {
    const u = await registerTestUser(vault, 'search-closed')
    const s = await vault.login(u.username, u.password)
    s.close()
    const err = await rejection(s.searchPatients('byNationalId', { nationalId }))
    expect((err as { code?: string }).code).to.equal('AUTHENTICATION')
  })
})
