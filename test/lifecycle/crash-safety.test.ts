import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import {
  AccessDeniedError,
  AuthenticationError,
  DatabaseError,
} from '../../src/errors/index.js'
import { auditReport, type AuditAction } from '../../src/services/audit.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { observeStatements } from '../../src/sql/prepared.js'
import {
  expectAuditChainVerifies as expectChainVerifies,
  expectKeyedConsistently,
} from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, testPassword, testVault } from '../support/vault-fixture.js'

/**
 * Crash safety of the lifecycle operations (each one is a single transaction, or
 * one per patient for rotate-all). For each operation a dry run
 * counts its statements (N) through the prepared-statement observer; then, for
 * k = 1..N, the same situation is set up afresh, the connection is destroyed just
 * before statement k, and the test checks that the operation failed with the
 * layer's DatabaseError, that nothing of it committed (every chart opens for
 * exactly the users who held a grant before, the key version did not move, no
 * audit row of the act, the chain verifies), and that running it again completes
 * it with the expected end state. Every boundary the observer sees is before the
 * COMMIT of its transaction (knex sends BEGIN and COMMIT on its own path), so for
 * a one-transaction operation every crash must leave the old state.
 */

interface Chart {
  readonly patientId: string
  readonly fullName: string
  readonly records: readonly { title: string; body: string }[]
}

let vault: Vault
let recovery: { publicKey: Buffer; privateKey: Buffer }
/** The suite's own database (see the describe below). */
let db: Knex
const openSessions: Session[] = []

async function login(username: string, password: string): Promise<Session> {
  const session = await vault.login(username, password)
  openSessions.push(session)
  return session
}

async function user(base: string, roles?: ('admin' | 'clinician')[]) {
  const creds = await registerTestUser(vault, base, roles)
  return { ...creds, session: await login(creds.username, creds.password) }
}

let chartNo = 0
/** A small chart: demographics and `records` notes, each with a unique title and body. */
async function makeChart(owner: Session, records = 2): Promise<Chart> {
  const n = ++chartNo
  const fullName = `Crash Patient ${n}`
  const patientId = await owner.createPatient({
    fullName,
    dateOfBirth: '1980-02-03',
    phone: `+44 20 7946 ${String(n).padStart(4, '0')}`,
  })
  const written = []
  for (let i = 0; i < records; i++) {
    const record = { title: `chart ${n} note ${i}`, body: `body ${n}.${i} ✓` }
    await owner.addRecord(patientId, {
      kind: 'note',
      occurredOn: `2026-03-0${1 + i}`,
      ...record,
    })
    written.push(record)
  }
  return { patientId, fullName, records: written }
}

/** The chart opens in full for `session`: demographics and every record, exactly. */
async function expectOpens(session: Session, chart: Chart, who: string): Promise<void> {
  const patient = await session.readPatient(chart.patientId)
  expect(patient.fullName, `${who} reads the demographics`).to.equal(chart.fullName)
  const records = await session.listRecords(chart.patientId)
  expect(
    records.map((r) => ({ title: r.title, body: r.body })),
    `${who} reads every record`,
  ).to.have.deep.members(chart.records.map((r) => ({ ...r })))
}

async function expectDenied(session: Session, chart: Chart, who: string): Promise<void> {
  await expect(session.readPatient(chart.patientId), who).to.be.rejectedWith(
    AccessDeniedError,
  )
  await expect(session.listRecords(chart.patientId), who).to.be.rejectedWith(
    AccessDeniedError,
  )
}

/** Every user in `users` can open the chart exactly when named in `allowed`. */
async function expectAccess(
  chart: Chart,
  users: Record<string, Session>,
  allowed: readonly string[],
): Promise<void> {
  for (const [who, session] of Object.entries(users)) {
    if (allowed.includes(who)) await expectOpens(session, chart, who)
    else await expectDenied(session, chart, who)
  }
}

function pid(chart: Chart): Buffer {
  return rowIdFromString(chart.patientId, 'patientId')
}

async function keyVersion(chart: Chart): Promise<number> {
  return expectKeyedConsistently(db, recovery, pid(chart))
}

/** Successful audit rows of an act (an act and its audit row commit together). */
async function audited(
  filters: { patientId?: string; actorUserId?: string; targetUserId?: string },
  action: AuditAction,
): Promise<number> {
  const rows = await auditReport(db, { ...filters, action, outcome: 'success' })
  return rows.length
}

function expectAuditChainVerifies(): Promise<void> {
  return expectChainVerifies(db)
}

/** Operation names of the prepared statements `run` executes, in order. */
async function statementsOf(run: () => Promise<unknown>): Promise<string[]> {
  const operations: string[] = []
  observeStatements(({ operation }) => {
    operations.push(operation)
  })
  try {
    await run()
  } finally {
    observeStatements(undefined)
  }
  return operations
}

/**
 * Runs `run` with the connection destroyed just before its k-th statement (1-based):
 * the observer fires once and uninstalls itself. Returns what `run` threw, if anything.
 */
async function runCrashingAt(
  k: number,
  run: () => Promise<unknown>,
): Promise<{ error: unknown; crashedAt: string | undefined }> {
  let seen = 0
  let crashedAt: string | undefined
  observeStatements((event) => {
    if (++seen !== k) return
    observeStatements(undefined)
    crashedAt = event.operation
    event.destroyConnection()
  })
  try {
    await run()
    return { error: undefined, crashedAt }
  } catch (error) {
    return { error, crashedAt }
  } finally {
    observeStatements(undefined)
  }
}

/** A crash at `operation` surfaced as the layer's DatabaseError naming that statement. */
function expectDatabaseError(error: unknown, operation: string, label: string): void {
  expect(error, `${label}: error`).to.be.instanceOf(DatabaseError)
  expect((error as DatabaseError).message, label).to.match(
    new RegExp(`^${operation.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed`),
  )
  expect((error as DatabaseError).retryable, label).to.equal(false)
}

interface Scenario<S> {
  /** A fresh situation in which the operation has not run yet. */
  setUp(): Promise<S>
  run(s: S): Promise<unknown>
  /** The state before the operation (after a crash: nothing of it committed). */
  expectNotDone(s: S): Promise<void>
  /** The state after the operation completed once. */
  expectDone(s: S, result: unknown): Promise<void>
}

/**
 * The loop of the suite: a dry run learns N, then a crash before each statement
 * in turn, the invariants, a retry, the invariants again. Returns N.
 */
async function crashAtEveryBoundary<S>(name: string, scenario: Scenario<S>) {
  const started = Date.now()
  const dry = await scenario.setUp()
  await scenario.expectNotDone(dry)
  let dryResult: unknown
  const operations = await statementsOf(async () => {
    dryResult = await scenario.run(dry)
  })
  await scenario.expectDone(dry, dryResult)
  expect(operations.length).to.be.greaterThan(0)

  for (let k = 1; k <= operations.length; k++) {
    const label = `${name}, crash before statement ${k}/${operations.length} (${operations[k - 1]})`
    const s = await scenario.setUp()
    const { error, crashedAt } = await runCrashingAt(k, () => scenario.run(s))
    expect(crashedAt, `${label}: the same statements as the dry run`).to.equal(
      operations[k - 1],
    )
    expectDatabaseError(error, operations[k - 1]!, label)
    await scenario.expectNotDone(s)
    await expectAuditChainVerifies()

    const result = await scenario.run(s)
    await scenario.expectDone(s, result)
    // The retry's audit rows are verified with the next crash's check (the
    // chain is verified whole each time), and after the last one here.
    if (k === operations.length) await expectAuditChainVerifies()
  }
  const ms = Date.now() - started
  console.log(
    `      ${name}: N = ${operations.length} statement boundaries, ${ms} ms` +
      ` [${operations.join(', ')}]`,
  )
  return operations.length
}

/**
 * Each describe below has a database of its own, the vault on it, and closes its
 * sessions at the end; the helpers above use whichever is current.
 */
function onOwnDatabase(): void {
  const own = useOwnDatabase()
  before(() => {
    db = own.db()
    ;({ vault, recovery } = testVault({ db }))
  })
  afterEach(() => observeStatements(undefined))
  after(() => {
    for (const s of openSessions.splice(0)) s.close()
  })
}

describe('lifecycle crash safety: rotate-all, connection destroyed at each statement boundary', function () {
  this.timeout(180_000)
  // rotate-all acts on every patient there is: on a database of its own the
  // patients are exactly the two made here, so every boundary can be tried.
  onOwnDatabase()

  it('rotate-all: a crash leaves every patient whole at the old or the new version; the retry resumes and rotates each exactly once', async () => {
    const started = Date.now()
    const admin = await user('cs-ra-admin', ['admin'])
    const alice = await user('cs-ra-alice')
    const bob = await user('cs-ra-bob')
    const charts = [await makeChart(alice.session), await makeChart(alice.session, 3)]
    await alice.session.grant(charts[0]!.patientId, bob.user.id)
    const users = { alice: alice.session, bob: bob.session }
    const allowed = [['alice', 'bob'], ['alice']]
    const authority = { admin: admin.session, recoveryPrivateKey: recovery.privateKey }

    /** Key version of every patient in the database (rotate-all walks them all). */
    async function allVersions(): Promise<Map<string, number>> {
      const rows = await db('patients').select('id', 'current_key_version')
      return new Map(
        rows.map((r: { id: Buffer; current_key_version: number }) => [
          rowIdToString(r.id),
          r.current_key_version,
        ]),
      )
    }
    async function openRuns(): Promise<number> {
      const rows = await db('key_rotation_runs')
        .whereNull('finished_at')
        .count({ n: '*' })
      return Number(rows[0]!.n)
    }
    async function expectEveryPatientWhole(): Promise<void> {
      for (const [i, chart] of charts.entries())
        await expectAccess(chart, users, allowed[i]!)
      for (const id of (await allVersions()).keys())
        await expectKeyedConsistently(db, recovery, rowIdFromString(id, 'id'))
    }

    expect(await openRuns()).to.equal(0)
    const before = await allVersions()
    let dryResult: unknown
    const operations = await statementsOf(async () => {
      dryResult = await vault.rotateAll(authority)
    })
    expect(dryResult).to.deep.include({ resumed: false, finished: true, failed: [] })
    const after = await allVersions()
    for (const [id, v] of before) expect(after.get(id), id).to.equal(v + 1)
    await expectEveryPatientWhole()
    const n = operations.length

    // The database holds only this suite's two patients, so the statements are
    // the run's own, both patients' whole transactions and the finish: every
    // one of them is tried.
    expect([...before.keys()].sort()).to.deep.equal(charts.map((c) => c.patientId).sort())
    for (let k = 1; k <= n; k++) {
      const label = `rotate-all, crash before statement ${k}/${n} (${operations[k - 1]})`
      const start = await allVersions()
      const { error, crashedAt } = await runCrashingAt(k, () =>
        vault.rotateAll(authority),
      )
      expect(crashedAt, label).to.equal(operations[k - 1])
      expectDatabaseError(error, operations[k - 1]!, label)
      // Patients before the crash are rotated (their transactions committed), the
      // rest are not; none is in between, and none was rotated twice.
      // Patients are walked in id order: those rotated are the first ones.
      const mid = await allVersions()
      const order = [...start.keys()].sort()
      const rotated = order.filter((id) => mid.get(id) === start.get(id)! + 1)
      for (const id of order)
        expect(mid.get(id), `${label}: ${id}`).to.be.oneOf([
          start.get(id)!,
          start.get(id)! + 1,
        ])
      expect(rotated, `${label}: rotated before the crash`).to.deep.equal(
        order.slice(0, rotated.length),
      )
      await expectEveryPatientWhole()
      await expectAuditChainVerifies()
      const runWasStarted = (await openRuns()) === 1

      const retry = await vault.rotateAll(authority)
      expect(retry, label).to.deep.include({
        rotated: order.length - rotated.length,
        resumed: runWasStarted,
        finished: true,
        failed: [],
      })
      const end = await allVersions()
      for (const [id, v] of start) expect(end.get(id), `${label}: ${id}`).to.equal(v + 1)
      expect(await openRuns()).to.equal(0)
      await expectEveryPatientWhole()
    }
    await expectAuditChainVerifies()
    console.log(
      `      rotate-all: N = ${n} statement boundaries over ${before.size} patients,` +
        ` every one tried, ${Date.now() - started} ms`,
    )
  })
})

describe('lifecycle crash safety: connection destroyed at each statement boundary', function () {
  this.timeout(180_000)
  // The audit chain is verified whole after every crash: on a database of its
  // own, that chain is this suite's alone.
  onOwnDatabase()

  it('password change: the old password works until it commits, then only the new one; every chart still opens', async () => {
    await crashAtEveryBoundary('password change', {
      async setUp() {
        const alice = await user('cs-pw-alice')
        const bob = await user('cs-pw-bob')
        const shared = await makeChart(alice.session)
        await alice.session.grant(shared.patientId, bob.user.id)
        const own = await makeChart(bob.session)
        return { bob, charts: [shared, own], newPassword: testPassword() }
      },
      run: ({ bob, newPassword }) =>
        vault.changePassword(bob.username, bob.password, newPassword),
      async expectNotDone({ bob, charts, newPassword }) {
        await expect(vault.login(bob.username, newPassword)).to.be.rejectedWith(
          AuthenticationError,
        )
        const session = await login(bob.username, bob.password)
        for (const chart of charts)
          await expectOpens(session, chart, 'bob (old password)')
        session.close()
        expect(await audited({ actorUserId: bob.user.id }, 'password.change')).to.equal(0)
      },
      async expectDone({ bob, charts, newPassword }) {
        await expect(vault.login(bob.username, bob.password)).to.be.rejectedWith(
          AuthenticationError,
        )
        const session = await login(bob.username, newPassword)
        for (const chart of charts)
          await expectOpens(session, chart, 'bob (new password)')
        session.close()
        expect(await audited({ actorUserId: bob.user.id }, 'password.change')).to.equal(1)
      },
    })
  })

  it('grant: the grantee opens nothing until it commits, then the whole chart', async () => {
    // The same users throughout; a fresh chart for every crash.
    const alice = await user('cs-gr-alice')
    const bob = await user('cs-gr-bob')
    const carol = await user('cs-gr-carol')
    await crashAtEveryBoundary('grant', {
      async setUp() {
        const chart = await makeChart(alice.session)
        await alice.session.grant(chart.patientId, bob.user.id)
        const users = { alice: alice.session, bob: bob.session, carol: carol.session }
        return { users, carol, chart }
      },
      run: ({ users, carol, chart }) => users.alice.grant(chart.patientId, carol.user.id),
      async expectNotDone({ users, carol, chart }) {
        await expectAccess(chart, users, ['alice', 'bob'])
        expect(await keyVersion(chart)).to.equal(1)
        expect(
          await audited(
            { patientId: chart.patientId, targetUserId: carol.user.id },
            'grant',
          ),
        ).to.equal(0)
      },
      async expectDone({ users, carol, chart }, result) {
        expect(result).to.deep.equal({ created: true })
        await expectAccess(chart, users, ['alice', 'bob', 'carol'])
        expect(await keyVersion(chart)).to.equal(1)
        expect(
          await audited(
            { patientId: chart.patientId, targetUserId: carol.user.id },
            'grant',
          ),
        ).to.equal(1)
      },
    })
  })

  it('revoke: the revoked user keeps access until it commits; then loses it and the key version moves', async () => {
    const alice = await user('cs-rv-alice')
    const bob = await user('cs-rv-bob')
    const carol = await user('cs-rv-carol')
    await crashAtEveryBoundary('revoke', {
      async setUp() {
        const chart = await makeChart(alice.session, 3)
        await alice.session.grant(chart.patientId, bob.user.id)
        await alice.session.grant(chart.patientId, carol.user.id)
        const users = { alice: alice.session, bob: bob.session, carol: carol.session }
        // bob opens the chart first, so his session holds the v1 key when revoked.
        await expectOpens(bob.session, chart, 'bob')
        return { users, bob, chart }
      },
      run: ({ users, bob, chart }) => users.alice.revoke(chart.patientId, bob.user.id),
      async expectNotDone({ users, bob, chart }) {
        await expectAccess(chart, users, ['alice', 'bob', 'carol'])
        expect(await keyVersion(chart)).to.equal(1)
        expect(
          await audited(
            { patientId: chart.patientId, targetUserId: bob.user.id },
            'revoke',
          ),
        ).to.equal(0)
      },
      async expectDone({ users, bob, chart }, result) {
        expect(result).to.deep.equal({ fromVersion: 1, toVersion: 2, rows: 4 })
        await expectAccess(chart, users, ['alice', 'carol'])
        expect(await keyVersion(chart)).to.equal(2)
        expect(
          await audited(
            { patientId: chart.patientId, targetUserId: bob.user.id },
            'revoke',
          ),
        ).to.equal(1)
      },
    })
  })

  it('rotation: the old key version stays whole until it commits; then every value is under the new one', async () => {
    const alice = await user('cs-ro-alice')
    const bob = await user('cs-ro-bob')
    await crashAtEveryBoundary('rotation', {
      async setUp() {
        const chart = await makeChart(alice.session, 3)
        await alice.session.grant(chart.patientId, bob.user.id)
        const users = { alice: alice.session, bob: bob.session }
        return { users, chart }
      },
      run: ({ users, chart }) => users.bob.rotatePatientKey(chart.patientId),
      async expectNotDone({ users, chart }) {
        await expectAccess(chart, users, ['alice', 'bob'])
        expect(await keyVersion(chart)).to.equal(1)
        expect(await audited({ patientId: chart.patientId }, 'rotate')).to.equal(0)
      },
      async expectDone({ users, chart }, result) {
        expect(result).to.deep.equal({ fromVersion: 1, toVersion: 2, rows: 4 })
        await expectAccess(chart, users, ['alice', 'bob'])
        expect(await keyVersion(chart)).to.equal(2)
        expect(await audited({ patientId: chart.patientId }, 'rotate')).to.equal(1)
      },
    })
  })
})
