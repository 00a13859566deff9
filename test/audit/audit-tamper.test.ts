import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { auditGenesisMac } from '../../src/crypto/audit-mac.js'
import type {
  AuditHeadRow,
  AuditLogRow,
  AuditTables,
} from '../../src/repositories/audit-log.row.js'
import {
  auditReport,
  verifyAuditChain,
  type AuditHeadState,
  type AuditVerifyResult,
} from '../../src/services/audit.service.js'
import { expect } from '../support/chai.js'
import { testDb } from '../support/test-env.js'
import {
  allRows,
  appendEvents,
  clonePrivateAuditTables,
  createPrivateAuditTables,
  dropPrivateAuditTables,
  headRow,
} from './chain-support.js'

/**
 * An attacker with write access to the tables but not the audit key. Each
 * scenario runs on its own copy of one 50-row chain built with the service, so
 * scenarios cannot disturb each other or any other suite (chain-support.ts).
 */
describe('audit tampering: verify finds every edit, deletion, insertion and reordering', () => {
  const key = randomBytes(32)
  let db: Knex
  let pristine: AuditTables
  let rows: AuditLogRow[]
  let headAt30: AuditHeadRow
  let fullHead: AuditHeadState
  const copies: AuditTables[] = []

  before(async () => {
    db = testDb()
    pristine = await createPrivateAuditTables(db, 'pristine')
    await appendEvents(db, key, pristine, 30)
    headAt30 = await headRow(db, pristine)
    await appendEvents(db, key, pristine, 20, 30)
    rows = await allRows(db, pristine)
    const result = await verifyAuditChain(db, key, { tables: pristine })
    if (!result.ok) throw new Error(`pristine chain does not verify: ${result.message}`)
    fullHead = result.head
  })

  after(async () => {
    for (const t of [...copies, pristine]) await dropPrivateAuditTables(db, t)
  })

  async function copy(): Promise<AuditTables> {
    const t = await clonePrivateAuditTables(db, pristine, 'tamper')
    copies.push(t)
    return t
  }

  const verify = (tables: AuditTables, anchor?: AuditHeadState) =>
    verifyAuditChain(db, key, { tables, pageSize: 16, ...(anchor ? { anchor } : {}) })

  function expectBroken(
    result: AuditVerifyResult,
    expected: {
      problem: string
      firstBadSeq: string
      rows?: number
      expectedSeq?: string
    },
    what = '',
  ): void {
    expect(result.ok, `${what}: should fail`).to.equal(false)
    expect(result, what).to.include(expected)
  }

  const row = (seq: number) => rows[seq - 1]!
  const flip = (b: Buffer, at = 0) => {
    const c = Buffer.from(b)
    c[at]! ^= 0x01
    return c
  }

  /** Every way to change one column of a row: a different value, and NULL where allowed. */
  function editsOf(r: AuditLogRow): [string, unknown][] {
    const id = (v: Buffer | null): unknown[] =>
      v === null ? [randomBytes(16)] : [flip(v, 15), null]
    const text = (v: string | null, other: string): unknown[] =>
      v === null ? [other] : [`${v} `, v.slice(1), null]
    const edits: [string, unknown][] = [
      ['occurred_at', new Date(r.occurred_at.getTime() + 1)],
      ['occurred_at', new Date(r.occurred_at.getTime() - 86_400_000)],
      ...id(r.actor_user_id).map((v): [string, unknown] => ['actor_user_id', v]),
      ['action', r.action === 'grant' ? 'revoke' : 'grant'],
      ...id(r.patient_id).map((v): [string, unknown] => ['patient_id', v]),
      ...id(r.target_user_id).map((v): [string, unknown] => ['target_user_id', v]),
      ['outcome', r.outcome === 'success' ? 'denied' : 'success'],
      ...text(r.reason, 'routine').map((v): [string, unknown] => ['reason', v]),
      ...text(r.detail, 'v1->v2').map((v): [string, unknown] => ['detail', v]),
      ['mac', flip(r.mac, 31)],
    ]
    return edits
  }

  it('an edit of any single column of the first, a middle or the last row is reported at that row', async () => {
    const t = await copy()
    let checked = 0
    for (const seq of [1, 25, 50]) {
      const original = row(seq)
      for (const [column, value] of editsOf(original)) {
        await db(t.log)
          .where('seq', seq)
          .update({ [column]: value })
        expectBroken(
          await verify(t),
          { problem: 'mac', firstBadSeq: String(seq), rows: seq - 1 },
          `row ${seq} ${column} = ${String(value)}`,
        )
        await db(t.log)
          .where('seq', seq)
          .update({ [column]: original[column as keyof AuditLogRow] })
        checked++
      }
    }
    expect(checked).to.be.at.least(3 * 11)
    // Every edit was put back: the copy verifies again.
    expect(await verify(t)).to.include({ ok: true, rows: 50 })
  })

  it('a report still shows a row whose id was overwritten with bytes that are no UUID', async () => {
    // Reports name what is stored; telling a forged row from a real one is verify's job.
    const t = await copy()
    await db(t.log)
      .where('seq', 7)
      .update({ actor_user_id: Buffer.alloc(16, 0xab) })
    const [entry] = await auditReport(db, {
      tables: t,
      after: { seq: '6', action: 'grant' },
      limit: 1,
    })
    expect(entry).to.include({
      seq: '7',
      actorUserId: 'abababab-abab-abab-abab-abababababab',
    })
    expectBroken(await verify(t), { problem: 'mac', firstBadSeq: '7', rows: 6 })
  })

  it('an edited seq shows as a gap where the sequence breaks', async () => {
    const t = await copy()
    await db(t.log).where('seq', 25).update({ seq: 10_000 })
    expectBroken(await verify(t), {
      problem: 'gap',
      firstBadSeq: '26',
      expectedSeq: '25',
      rows: 24,
    })
    await db(t.log).where('seq', 10_000).update({ seq: 25 })
    await db(t.log).where('seq', 50).update({ seq: 51 })
    expectBroken(await verify(t), {
      problem: 'gap',
      firstBadSeq: '51',
      expectedSeq: '50',
    })
    await db(t.log).where('seq', 51).update({ seq: 50 })
    await db(t.log).where('seq', 1).update({ seq: 0 })
    expectBroken(await verify(t), {
      problem: 'gap',
      firstBadSeq: '0',
      expectedSeq: '1',
      rows: 0,
    })
  })

  it('a deleted middle row is reported at the row after the gap', async () => {
    const t = await copy()
    await db(t.log).where('seq', 25).del()
    expectBroken(await verify(t), {
      problem: 'gap',
      firstBadSeq: '26',
      expectedSeq: '25',
      rows: 24,
    })
  })

  it('a deleted first row is reported at seq 2', async () => {
    const t = await copy()
    await db(t.log).where('seq', 1).del()
    expectBroken(await verify(t), { problem: 'gap', firstBadSeq: '2', expectedSeq: '1' })
  })

  it('a deleted last row is found through the head', async () => {
    const t = await copy()
    await db(t.log).where('seq', 50).del()
    expectBroken(await verify(t), { problem: 'head', firstBadSeq: '50', rows: 49 })
  })

  it('a forged row appended after the last one is reported (with or without a forged head)', async () => {
    const t = await copy()
    const forged = { ...row(50), seq: 51, mac: randomBytes(32) }
    await db(t.log).insert(forged)
    expectBroken(await verify(t), { problem: 'mac', firstBadSeq: '51', rows: 50 })
    await db(t.head).update({
      last_seq: 51,
      last_mac: forged.mac,
      head_mac: randomBytes(32),
    })
    expectBroken(await verify(t), { problem: 'mac', firstBadSeq: '51', rows: 50 })
  })

  it('a forged row inserted in the middle (rows renumbered to make room) is reported at its seq', async () => {
    const t = await copy()
    await db.raw('UPDATE ?? SET seq = seq + 1 WHERE seq >= 26 ORDER BY seq DESC', [t.log])
    await db(t.log).insert({
      ...row(26),
      seq: 26,
      reason: 'forged',
      mac: randomBytes(32),
    })
    await db(t.head).update({ last_seq: 51 })
    expectBroken(await verify(t), { problem: 'mac', firstBadSeq: '26', rows: 25 })
  })

  it('a genuine row copied into the middle (renumbered) is reported at its seq', async () => {
    const t = await copy()
    await db.raw('UPDATE ?? SET seq = seq + 1 WHERE seq >= 26 ORDER BY seq DESC', [t.log])
    await db(t.log).insert({ ...row(10), seq: 26 })
    expectBroken(await verify(t), { problem: 'mac', firstBadSeq: '26', rows: 25 })
  })

  it('a forged row before the first one (seq 0) is reported', async () => {
    const t = await copy()
    await db(t.log).insert({ ...row(1), seq: 0, mac: randomBytes(32) })
    expectBroken(await verify(t), { problem: 'gap', firstBadSeq: '0', expectedSeq: '1' })
  })

  it('two rows with their contents swapped (seqs kept, MACs swapped too) are reported at the first', async () => {
    const t = await copy()
    const contents = (r: AuditLogRow) => ({ ...r, seq: undefined })
    const r10 = contents(row(10))
    const r20 = contents(row(20))
    await db(t.log).where('seq', 10).update(r20)
    await db(t.log).where('seq', 20).update(r10)
    expectBroken(await verify(t), { problem: 'mac', firstBadSeq: '10', rows: 9 })
  })

  it('two adjacent rows reordered (seqs exchanged) are reported at the first', async () => {
    const t = await copy()
    await db(t.log).where('seq', 30).update({ seq: 1_000_000 })
    await db(t.log).where('seq', 31).update({ seq: 30 })
    await db(t.log).where('seq', 1_000_000).update({ seq: 31 })
    expectBroken(await verify(t), { problem: 'mac', firstBadSeq: '30', rows: 29 })
  })

  it('a head rolled back to a genuine older head, rows kept, is reported after it', async () => {
    const t = await copy()
    await db(t.head).update(headAt30)
    expectBroken(await verify(t), { problem: 'head', firstBadSeq: '31', rows: 50 })
  })

  it('a head with a flipped MAC, a forged seq or a wrong last MAC is reported', async () => {
    const t = await copy()
    const genuine = await headRow(db, t)
    await db(t.head).update({ head_mac: flip(genuine.head_mac) })
    expectBroken(await verify(t), { problem: 'head', firstBadSeq: '50', rows: 50 })
    await db(t.head).update({ ...genuine, last_seq: 55 })
    expectBroken(await verify(t), { problem: 'head', firstBadSeq: '51' })
    await db(t.head).update({ ...genuine, last_mac: row(49).mac })
    expectBroken(await verify(t), { problem: 'head', firstBadSeq: '50' })
    await db(t.head).del()
    expectBroken(await verify(t), { problem: 'head', firstBadSeq: '51', rows: 50 })
  })

  it('the documented limit: a cut-off tail with a genuine old head verifies, and only an anchor finds it', async () => {
    const t = await copy()
    await db(t.log).where('seq', '>', 30).del()
    await db(t.head).update(headAt30)
    // Self-consistent: every MAC here was made with the key. verify cannot know
    // rows 31..50 ever existed unless it is told (see verifyAuditChain's comment).
    expect(await verify(t)).to.include({ ok: true, rows: 30, lastSeq: '30' })
    expectBroken(await verify(t, fullHead), {
      problem: 'anchor',
      firstBadSeq: '31',
      rows: 30,
    })
    // The extreme case: everything deleted, genesis head restored.
    await db(t.log).del()
    await db(t.head).update({
      last_seq: 0,
      last_mac: auditGenesisMac(),
      head_mac: auditGenesisMac(),
    })
    expect(await verify(t)).to.include({ ok: true, rows: 0 })
    expectBroken(await verify(t, fullHead), { problem: 'anchor', firstBadSeq: '1' })
  })
})
