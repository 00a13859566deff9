import { expect } from '../support/chai.js'
import { rowIdFromString } from '../../src/db/row-id.js'
import {
  AccessDeniedError,
  DatabaseError,
  IntegrityError,
  NotFoundError,
} from '../../src/errors/index.js'
import { auditReport } from '../../src/services/audit.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import {
  expectAuditChainVerifies,
  expectKeyedConsistently,
} from '../support/lifecycle-checks.js'
import { testDb } from '../support/test-env.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

/**
 * Soak: 8 sessions (8 users) work on the same 4 patients at once, each picking
 * actions at random (a seeded PRNG per session): read the chart, add a record,
 * update the demographics, grant another user, revoke another user, rotate the key.
 * Then: zero undecryptable values, every acknowledged write reads back exactly
 * once with its exact body (and nothing that was not acknowledged), the key
 * versions add up to the rotations acknowledged, the audit chain verifies.
 *
 * EMR_VAULT_SOAK_MS sets the duration (30 s by default); EMR_VAULT_SOAK_SEED the seed.
 */
const SOAK_MS = Number(process.env['EMR_VAULT_SOAK_MS'] ?? 30_000)
const SEED = Number(process.env['EMR_VAULT_SOAK_SEED'] ?? 0x5eed)
const USERS = 8
const PATIENTS = 4
const INITIAL_RECORDS = 2
/** A bound on each session's loop, whatever the clock does. */
const MAX_OPS_PER_SESSION = 100_000

/** mulberry32: small, seedable, good enough to pick actions. */
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

type Action = 'read' | 'add' | 'update' | 'grant' | 'revoke' | 'rotate'
const WEIGHTS: readonly [Action, number][] = [
  ['read', 30],
  ['add', 25],
  ['update', 10],
  ['grant', 15],
  ['revoke', 10],
  ['rotate', 10],
]

interface AckedRecord {
  readonly patientId: string
  readonly title: string
  readonly body: string
  /** When the write was acknowledged (ms since the soak started). */
  readonly ackedAt: number
}

/** An acknowledged demographics update: the phone value, and when it ran. */
interface AckedUpdate {
  readonly phone: string
  readonly startedAt: number
  readonly ackedAt: number
}

interface Counts {
  ops: Record<Action, number>
  ok: Record<Action, number>
  /** AccessDeniedError: the session had no grant (revoked meanwhile, or never held). */
  denied: number
  /** NotFoundError from revoking a user who held no grant. */
  revokeNotFound: number
  /** Grants that found the grantee already holding one. */
  grantNoop: number
}

function newCounts(): Counts {
  const zero = () =>
    ({ read: 0, add: 0, update: 0, grant: 0, revoke: 0, rotate: 0 }) as Record<
      Action,
      number
    >
  return { ops: zero(), ok: zero(), denied: 0, revokeNotFound: 0, grantNoop: 0 }
}

/** Server-wide deadlock and lock-wait-timeout counters (each one a retried transaction), where readable. */
async function lockCounters(): Promise<{ deadlocks: number; timeouts: number } | null> {
  try {
    const rows = await testDb()
      .select('name', 'count')
      .from('information_schema.INNODB_METRICS')
      .whereIn('name', ['lock_deadlocks', 'lock_timeouts'])
    const get = (n: string) =>
      Number(rows.find((r: { name: string }) => r.name.toLowerCase() === n)?.count ?? NaN)
    const out = { deadlocks: get('lock_deadlocks'), timeouts: get('lock_timeouts') }
    return Number.isNaN(out.deadlocks) ? null : out
  } catch {
    return null
  }
}

describe('lifecycle concurrency soak: 8 sessions on the same few patients', function () {
  this.timeout(SOAK_MS + 120_000)

  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  const sessions: Session[] = []

  before(async () => {
    ;({ vault, recovery } = testVault())
    for (let u = 0; u < USERS; u++) {
      const creds = await registerTestUser(vault, `soak-u${u}`)
      sessions.push(await vault.login(creds.username, creds.password))
    }
  })

  after(() => {
    for (const s of sessions) s.close()
  })

  it(`reads, writes, grants, revokes and rotations at once for ${SOAK_MS} ms: nothing undecryptable, no acknowledged write lost, audit chain verifies`, async () => {
    const db = testDb()
    const initialPhone = 'phone 0'
    // Patient p is created by user p and granted to the next two users.
    const patients: string[] = []
    const initialTitles = new Map<string, string[]>()
    for (let p = 0; p < PATIENTS; p++) {
      const owner = sessions[p]!
      const id = await owner.createPatient({
        fullName: `Soak Patient ${p}`,
        dateOfBirth: '1961-07-0' + (p + 1),
        phone: initialPhone,
      })
      const titles = []
      for (let i = 0; i < INITIAL_RECORDS; i++) {
        const title = `initial ${p}.${i}`
        await owner.addRecord(id, {
          kind: 'note',
          occurredOn: '2026-01-01',
          title,
          body: `initial body ${p}.${i}`,
        })
        titles.push(title)
      }
      for (const g of [1, 2]) await owner.grant(id, sessions[(p + g) % USERS]!.userId)
      patients.push(id)
      initialTitles.set(id, titles)
    }

    const acked: AckedRecord[] = []
    const updates = new Map<string, AckedUpdate[]>(patients.map((p) => [p, []]))
    /** Successful rotations and revokes per patient: each moves the key version by one. */
    const rotations = new Map<string, number>(patients.map((p) => [p, 0]))
    const failures: string[] = []
    const counts = newCounts()
    const locksBefore = await lockCounters()
    const t0 = Date.now()
    const now = () => Date.now() - t0
    const deadline = t0 + SOAK_MS

    /** A read checks the chart against every write acknowledged before it began. */
    async function readChart(session: Session, patientId: string): Promise<void> {
      const startedAt = now()
      const patient = await session.readPatient(patientId)
      const records = await session.listRecords(patientId)
      if (!patient.fullName.startsWith('Soak Patient ')) {
        failures.push(`read ${patientId}: demographics read back wrong`)
      }
      const byTitle = new Map<string, string | null | undefined>()
      for (const r of records) {
        if (byTitle.has(r.title)) failures.push(`read ${patientId}: "${r.title}" twice`)
        byTitle.set(r.title, r.body)
      }
      for (const w of acked) {
        if (w.patientId !== patientId || w.ackedAt > startedAt) continue
        if (byTitle.get(w.title) !== w.body) {
          failures.push(`read ${patientId}: acknowledged "${w.title}" missing or changed`)
        }
      }
    }

    async function worker(u: number): Promise<void> {
      const random = prng(SEED + u * 7919)
      const session = sessions[u]!
      const pick = <T>(items: readonly T[]): T =>
        items[Math.floor(random() * items.length)]!
      const total = WEIGHTS.reduce((n, [, w]) => n + w, 0)
      let writes = 0
      for (let i = 0; i < MAX_OPS_PER_SESSION && Date.now() < deadline; i++) {
        let r = random() * total
        const action = WEIGHTS.find(([, w]) => (r -= w) < 0)?.[0] ?? 'read'
        // Mostly a patient this user believes it holds (the belief goes stale
        // under concurrent revokes: that is the point), sometimes any patient.
        const mine = await session.listAccessiblePatients()
        const held = mine.filter((id) => patients.includes(id))
        const patientId = held.length > 0 && random() < 0.85 ? pick(held) : pick(patients)
        const other = sessions[(u + 1 + Math.floor(random() * (USERS - 1))) % USERS]!
        counts.ops[action]++
        try {
          switch (action) {
            case 'read':
              await readChart(session, patientId)
              break
            case 'add': {
              const title = `soak u${u} #${++writes}`
              const body = `written by u${u}, write ${writes}, ${random().toString(36).slice(2)}`
              await session.addRecord(patientId, {
                kind: 'note',
                occurredOn: '2026-05-05',
                title,
                body,
              })
              acked.push({ patientId, title, body, ackedAt: now() })
              break
            }
            case 'update': {
              const phone = `phone u${u} #${++writes}`
              const startedAt = now()
              await session.updatePatient(patientId, { phone })
              updates.get(patientId)!.push({ phone, startedAt, ackedAt: now() })
              break
            }
            case 'grant': {
              const { created } = await session.grant(patientId, other.userId)
              if (!created) counts.grantNoop++
              break
            }
            case 'revoke':
              // Never oneself: the revoker keeps its grant, so a patient always
              // keeps at least one grantee.
              await session.revoke(patientId, other.userId)
              rotations.set(patientId, rotations.get(patientId)! + 1)
              break
            case 'rotate':
              await session.rotatePatientKey(patientId)
              rotations.set(patientId, rotations.get(patientId)! + 1)
              break
          }
          counts.ok[action]++
        } catch (err) {
          if (err instanceof AccessDeniedError) counts.denied++
          else if (action === 'revoke' && err instanceof NotFoundError)
            counts.revokeNotFound++
          else {
            const what =
              err instanceof DatabaseError
                ? `DatabaseError ${err.driverCode} errno ${err.errno}`
                : err instanceof IntegrityError
                  ? `IntegrityError`
                  : (err as Error)?.constructor?.name
            failures.push(`u${u} ${action}: ${what}: ${(err as Error)?.message}`)
          }
        }
      }
    }

    await Promise.all(sessions.map((_, u) => worker(u)))
    const elapsed = now()
    const locksAfter = await lockCounters()
    const totalOps = Object.values(counts.ops).reduce((a, b) => a + b, 0)
    console.log(
      `      soak: ${elapsed} ms, ${USERS} sessions, ${PATIENTS} patients, seed ${SEED}, ${totalOps} operations`,
    )
    console.log(
      `      attempted ${JSON.stringify(counts.ops)}\n      succeeded ${JSON.stringify(counts.ok)}`,
    )
    console.log(
      `      access denied (grant lost or never held): ${counts.denied}; revoke of a non-grantee: ${counts.revokeNotFound}; ` +
        `grant already held: ${counts.grantNoop}; failures: ${failures.length}`,
    )
    console.log(
      locksBefore && locksAfter
        ? `      InnoDB (server-wide) during the soak: ${locksAfter.deadlocks - locksBefore.deadlocks} deadlocks, ` +
            `${locksAfter.timeouts - locksBefore.timeouts} lock wait timeouts (each retried by inTransaction)`
        : '      InnoDB deadlock counters not readable on this server',
    )
    expect(failures.slice(0, 20), `${failures.length} failures`).to.deep.equal([])
    expect(counts.ok.add).to.be.greaterThan(0)
    expect(counts.ok.rotate + counts.ok.revoke).to.be.greaterThan(0)

    // The final check needs no admin and no recovery key: a user who still holds
    // each patient (every patient keeps one: nobody revokes themselves) grants it
    // to everyone else; then every user reads every chart.
    for (const patientId of patients) {
      let holder: Session | undefined
      for (const s of sessions) {
        if ((await s.listAccessiblePatients()).includes(patientId)) holder = s
      }
      expect(holder, `patient ${patientId} kept a grantee`).to.not.equal(undefined)
      for (const s of sessions) if (s !== holder) await holder!.grant(patientId, s.userId)
    }

    for (const patientId of patients) {
      const pid = rowIdFromString(patientId, 'patientId')
      const expected = [
        ...initialTitles.get(patientId)!.map((t) => t),
        ...acked.filter((w) => w.patientId === patientId).map((w) => w.title),
      ].sort()
      const bodies = new Map(
        acked.filter((w) => w.patientId === patientId).map((w) => [w.title, w.body]),
      )
      const phones = updates.get(patientId)!
      // Last writer wins: the phone read back is an acknowledged update that no
      // other acknowledged update started after (or the initial value, if none).
      const possible =
        phones.length === 0
          ? [initialPhone]
          : phones
              .filter((w) => !phones.some((x) => x.startedAt > w.ackedAt))
              .map((w) => w.phone)
      for (const [u, s] of sessions.entries()) {
        const patient = await s.readPatient(patientId)
        expect(patient.fullName, `u${u}`).to.match(/^Soak Patient \d$/)
        expect(patient.phone, `u${u}: phone of ${patientId}`).to.be.oneOf(possible)
        const records = await s.listRecords(patientId)
        // Every acknowledged write exactly once, and nothing that was not acknowledged.
        expect(
          records.map((r) => r.title).sort(),
          `u${u}: records of ${patientId}`,
        ).to.deep.equal(expected)
        for (const r of records) {
          const body = bodies.get(r.title)
          if (body !== undefined) expect(r.body, `u${u}: ${r.title}`).to.equal(body)
        }
      }
      // Every value verifies under the current key; the version moved once per
      // acknowledged rotation or revoke, and never otherwise.
      const version = await expectKeyedConsistently(db, recovery, pid)
      expect(version, `key version of ${patientId}`).to.equal(
        1 + rotations.get(patientId)!,
      )
      // Each acknowledged write has its audit row, and no other write has one.
      const created = await auditReport(db, {
        patientId,
        action: 'record.create',
        outcome: 'success',
        limit: 10_000,
      })
      expect(created.length, `record.create audit rows of ${patientId}`).to.equal(
        expected.length,
      )
    }
    await expectAuditChainVerifies(db)
  })
})
