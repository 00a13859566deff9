import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { auditGenesisMac, auditHeadMac, auditRowMac } from '../../src/crypto/audit-mac.js'
import {
  ConfigurationError,
  IntegrityError,
  ValidationError,
} from '../../src/errors/index.js'
import type { AuditTables } from '../../src/repositories/audit-log.row.js'
import {
  appendAudit,
  appendAudits,
  auditReport,
  verifyAuditChain,
  type AuditEvent,
} from '../../src/services/audit.service.js'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import { expect } from '../support/chai.js'
import { testDb } from '../support/test-env.js'
import {
  PATIENTS,
  USERS,
  allRows,
  appendEvents,
  createPrivateAuditTables,
  dropPrivateAuditTables,
  eventFor,
  headRow,
  uuid,
} from './chain-support.js'

describe('audit chain: append and verify (private tables)', () => {
  const key = randomBytes(32)
  let db: Knex
  let tables: AuditTables
  let seqs: string[]

  before(async () => {
    db = testDb()
    tables = await createPrivateAuditTables(db, 'chain')
  })

  after(async () => {
    await dropPrivateAuditTables(db, tables)
  })

  it('a fresh pair holds the genesis head: seq 0, zero MACs; an empty chain verifies', async () => {
    const head = await headRow(db, tables)
    expect(head.last_seq).to.equal('0')
    expect(head.last_mac).to.deep.equal(auditGenesisMac())
    expect(head.head_mac).to.deep.equal(auditGenesisMac())
    const result = await verifyAuditChain(db, key, { tables })
    expect(result).to.deep.equal({
      ok: true,
      rows: 0,
      lastSeq: '0',
      head: { lastSeq: '0', lastMac: auditGenesisMac().toString('hex') },
    })
  })

  it('appends 50 varied events in separate transactions as seqs 1..50; verify is ok', async () => {
    seqs = await appendEvents(db, key, tables, 50)
    expect(seqs).to.deep.equal(Array.from({ length: 50 }, (_, i) => String(i + 1)))
    const result = await verifyAuditChain(db, key, { tables })
    expect(result.ok).to.equal(true)
    if (!result.ok) return
    expect(result.rows).to.equal(50)
    expect(result.lastSeq).to.equal('50')
    const rows = await allRows(db, tables)
    expect(result.head).to.deep.equal({
      lastSeq: '50',
      lastMac: rows[49]!.mac.toString('hex'),
    })
  })

  it('stores exactly the event, and each MAC recomputes from the previous one', async () => {
    const rows = await allRows(db, tables)
    let prev = auditGenesisMac()
    for (const [i, row] of rows.entries()) {
      const e = eventFor(i)
      expect(row.seq).to.equal(String(i + 1))
      expect(row.actor_user_id).to.deep.equal(e.actorUserId)
      expect(row.action).to.equal(e.action)
      expect(row.patient_id).to.deep.equal(e.patientId ?? null)
      expect(row.target_user_id).to.deep.equal(e.targetUserId ?? null)
      expect(row.outcome).to.equal(e.outcome)
      expect(row.reason).to.equal(e.reason ?? null)
      expect(row.detail).to.equal(e.detail ?? null)
      expect(row.mac).to.deep.equal(
        auditRowMac(key, prev, {
          seq: BigInt(i + 1),
          occurredAt: row.occurred_at,
          actorUserId: row.actor_user_id,
          action: row.action,
          patientId: row.patient_id,
          targetUserId: row.target_user_id,
          outcome: row.outcome,
          reason: row.reason,
          detail: row.detail,
        }),
      )
      prev = row.mac
    }
    const head = await headRow(db, tables)
    expect(head.last_seq).to.equal('50')
    expect(head.last_mac).to.deep.equal(prev)
    expect(head.head_mac).to.deep.equal(auditHeadMac(key, 50n, prev))
    // occurred_at is the server clock read under the head lock: it never goes back.
    for (let i = 1; i < rows.length; i++)
      expect(rows[i]!.occurred_at.getTime()).to.be.at.least(
        rows[i - 1]!.occurred_at.getTime(),
      )
    const [{ now }] = await db.select(db.raw('NOW(3) AS now'))
    expect(Math.abs(now.getTime() - rows[49]!.occurred_at.getTime())).to.be.below(60_000)
  })

  it('verify reads page by page: pageSize 7 over 50 rows reports progress 8 times', async () => {
    const progress: number[] = []
    const result = await verifyAuditChain(db, key, {
      tables,
      pageSize: 7,
      onProgress: (checked) => progress.push(checked),
    })
    expect(result).to.include({ ok: true, rows: 50, lastSeq: '50' })
    expect(progress).to.deep.equal([7, 14, 21, 28, 35, 42, 49, 50])
    // A page size that divides the log: one more (empty) read, no extra progress.
    const exact: number[] = []
    await verifyAuditChain(db, key, {
      tables,
      pageSize: 10,
      onProgress: (c) => exact.push(c),
    })
    expect(exact).to.deep.equal([10, 20, 30, 40, 50])
  })

  it('a wrong audit key fails at seq 1', async () => {
    const result = await verifyAuditChain(db, randomBytes(32), { tables })
    expect(result).to.include({ ok: false, problem: 'mac', firstBadSeq: '1', rows: 0 })
  })

  it('an anchor from an earlier good run is accepted; a wrong one is reported', async () => {
    const good = await verifyAuditChain(db, key, { tables })
    if (!good.ok) throw new Error(good.message)
    expect(await verifyAuditChain(db, key, { tables, anchor: good.head })).to.include({
      ok: true,
      lastSeq: '50',
    })
    // The head survives JSON as it is: a file or a ticket holds it between runs.
    const stored = JSON.parse(JSON.stringify(good.head)) as typeof good.head
    expect(await verifyAuditChain(db, key, { tables, anchor: stored })).to.include({
      ok: true,
    })
    const rows = await allRows(db, tables)
    const mac = (i: number) => rows[i]!.mac.toString('hex')
    expect(
      await verifyAuditChain(db, key, {
        tables,
        anchor: { lastSeq: '20', lastMac: mac(19).toUpperCase() },
      }),
    ).to.include({ ok: true })
    expect(
      await verifyAuditChain(db, key, {
        tables,
        anchor: { lastSeq: '20', lastMac: mac(20) },
      }),
    ).to.include({ ok: false, problem: 'anchor', firstBadSeq: '20', rows: 19 })
  })

  it('refuses a malformed anchor with ValidationError naming the field', async () => {
    const mac = (await allRows(db, tables))[19]!.mac
    const bad: [string, unknown][] = [
      ['anchor.lastSeq', { lastSeq: 20n, lastMac: mac.toString('hex') }],
      ['anchor.lastSeq', { lastSeq: 20, lastMac: mac.toString('hex') }],
      ['anchor.lastSeq', { lastSeq: '020', lastMac: mac.toString('hex') }],
      ['anchor.lastSeq', { lastSeq: ' 20', lastMac: mac.toString('hex') }],
      ['anchor.lastSeq', { lastSeq: '-1', lastMac: mac.toString('hex') }],
      [
        'anchor.lastSeq',
        { lastSeq: '18446744073709551616', lastMac: mac.toString('hex') },
      ],
      ['anchor.lastMac', { lastSeq: '20', lastMac: mac }],
      ['anchor.lastMac', { lastSeq: '20', lastMac: mac.toString('hex').slice(2) }],
      ['anchor.lastMac', { lastSeq: '20', lastMac: mac.toString('base64') }],
      ['anchor.lastMac', { lastSeq: '20', lastMac: `${mac.toString('hex')}\n` }],
    ]
    for (const [field, anchor] of bad) {
      await expect(
        verifyAuditChain(db, key, { tables, anchor: anchor as never }),
        JSON.stringify(anchor, (_k, v: unknown) =>
          typeof v === 'bigint' ? 'bigint' : v,
        ),
      ).to.be.rejectedWith(ValidationError, `"${field}"`)
    }
  })

  it('a 16-byte audit key is a ConfigurationError from append and verify, before any write', async () => {
    const short = randomBytes(16)
    await expect(
      db.transaction((trx) => appendAudit(trx, short, eventFor(0), tables)),
    ).to.be.rejectedWith(
      ConfigurationError,
      '"auditKey" must be a Buffer of 32 bytes, got 16',
    )
    await expect(verifyAuditChain(db, short, { tables })).to.be.rejectedWith(
      ConfigurationError,
    )
    expect((await headRow(db, tables)).last_seq).to.equal('50')
  })

  it('append outside a transaction is refused', async () => {
    await expect(
      appendAudit(db as unknown as Knex.Transaction, key, eventFor(0), tables),
    ).to.be.rejectedWith(ValidationError, '"trx"')
  })

  it('refuses bad events with ValidationError and writes nothing', async () => {
    const base: AuditEvent = eventFor(0)
    const bad: [string, Record<string, unknown>][] = [
      ['action', { action: 'patient.delete' }],
      ['action', { action: undefined }],
      ['outcome', { outcome: 'ok' }],
      ['actorUserId', { actorUserId: randomBytes(15) }],
      ['actorUserId', { actorUserId: 'alice' }],
      ['patientId', { patientId: randomBytes(17) }],
      ['targetUserId', { targetUserId: 42 }],
      ['reason', { reason: 42 }],
      ['reason', { reason: '' }],
      ['reason', { reason: ' \n\t ' }],
      ['reason', { reason: 'a\ud800b' }],
      ['reason', { reason: 'x'.repeat(501) }],
      ['reason', { reason: 'bell\u0007' }],
      ['reason', { reason: 'c1\u0085' }],
      ['detail', { detail: 'v2→v3' }],
      ['detail', { detail: 'x'.repeat(201) }],
      ['detail', { detail: 'line\nbreak' }],
      ['detail', { detail: '' }],
    ]
    for (const [field, change] of bad) {
      await expect(
        db.transaction((trx) =>
          appendAudit(trx, key, { ...base, ...change } as AuditEvent, tables),
        ),
        `${field}: ${JSON.stringify(Object.keys(change))}`,
      ).to.be.rejectedWith(ValidationError, `"${field}"`)
    }
    // The limits themselves are accepted: 500 characters of astral code points.
    const longest = '🚑'.repeat(500)
    const seq = await db.transaction((trx) =>
      appendAudit(
        trx,
        key,
        { ...base, reason: longest, detail: '~'.repeat(200) },
        tables,
      ),
    )
    expect(seq).to.equal('51')
    const [row] = await db(tables.log).where('seq', 51)
    expect(row.reason).to.equal(longest)
    expect(await verifyAuditChain(db, key, { tables })).to.include({
      ok: true,
      lastSeq: '51',
    })
  })

  it('a transaction that appends and then rolls back leaves no row; the chain verifies', async () => {
    const before = await headRow(db, tables)
    const boom = new Error('the act failed after its audit row')
    await expect(
      db.transaction(async (trx) => {
        expect(await appendAudit(trx, key, eventFor(3), tables)).to.equal('52')
        throw boom
      }),
    ).to.be.rejectedWith(boom)
    expect(await db(tables.log).where('seq', 52)).to.have.length(0)
    expect(await headRow(db, tables)).to.deep.equal(before)
    expect(await verifyAuditChain(db, key, { tables })).to.include({
      ok: true,
      lastSeq: '51',
    })
    // The seq is reused: the chain has no hole.
    expect(
      await db.transaction((trx) => appendAudit(trx, key, eventFor(3), tables)),
    ).to.equal('52')
  })

  describe('audit report', () => {
    const seqsWhere = (pred: (e: AuditEvent) => boolean) =>
      Array.from({ length: 50 }, (_, i) => i)
        .filter((i) => pred(eventFor(i)))
        .map((i) => String(i + 1))
    /** Seqs of the 50 generated events (later tests append more). */
    const first50 = (seq: string) => Number(seq) <= 50

    it('filters by patient, actor, target, action and outcome, in seq order', async () => {
      const by = async (filters: Parameters<typeof auditReport>[1]) =>
        (await auditReport(db, { tables, ...filters })).map((e) => e.seq).filter(first50)
      expect(await by({ patientId: uuid(PATIENTS[2]) })).to.deep.equal(
        seqsWhere((e) => e.patientId?.equals(PATIENTS[2]) === true),
      )
      // A UUID in upper case names the same id.
      expect(await by({ patientId: uuid(PATIENTS[2]).toUpperCase() })).to.deep.equal(
        seqsWhere((e) => e.patientId?.equals(PATIENTS[2]) === true),
      )
      expect(await by({ actorUserId: uuid(USERS[1]) })).to.deep.equal(
        seqsWhere((e) => e.actorUserId?.equals(USERS[1]) === true),
      )
      expect(await by({ targetUserId: uuid(USERS[0]) })).to.deep.equal(
        seqsWhere((e) => e.targetUserId?.equals(USERS[0]) === true),
      )
      expect(await by({ action: 'grant' })).to.deep.equal(
        seqsWhere((e) => e.action === 'grant'),
      )
      expect(await by({ action: ['grant', 'revoke'] })).to.deep.equal(
        seqsWhere((e) => e.action === 'grant' || e.action === 'revoke'),
      )
      expect(await by({ outcome: 'denied', patientId: uuid(PATIENTS[0]) })).to.deep.equal(
        seqsWhere(
          (e) => e.outcome === 'denied' && e.patientId?.equals(PATIENTS[0]) === true,
        ),
      )
      expect(await by({ patientId: rowIdToString(newRowId()) })).to.deep.equal([])
    })

    it('returns the stored facts of each row', async () => {
      const [entry] = await auditReport(db, {
        tables,
        action: 'break_glass.open',
        limit: 1,
      })
      const i = Number(entry!.seq) - 1
      const e = eventFor(i)
      const id = (v: Buffer | null | undefined) => (v ? uuid(v) : null)
      expect(entry).to.deep.include({
        action: 'break_glass.open',
        actorUserId: id(e.actorUserId),
        patientId: id(e.patientId),
        targetUserId: id(e.targetUserId),
        outcome: e.outcome,
        reason: 'unconscious patient in ED, no registered clinician on shift',
        detail: e.detail ?? null,
      })
      expect(entry!.occurredAt).to.be.instanceOf(Date)
    })

    it('filters by a time range [from, to)', async () => {
      const rows = await allRows(db, tables)
      const from = rows[9]!.occurred_at
      const to = rows[30]!.occurred_at
      const expected = rows
        .filter((r) => r.occurred_at >= from && r.occurred_at < to)
        .map((r) => r.seq)
      expect(expected.length).to.be.at.least(1)
      const got = await auditReport(db, { tables, from, to })
      expect(got.map((e) => e.seq)).to.deep.equal(expected)
    })

    it('breakGlassFirst: break-glass rows first, then the rest, each by seq; pages by keyset', async () => {
      const bg = seqsWhere((e) => e.action.startsWith('break_glass.'))
      const rest = seqsWhere((e) => !e.action.startsWith('break_glass.'))
      expect(bg.length).to.be.at.least(4)
      const all = await auditReport(db, { tables, breakGlassFirst: true })
      const head50 = all.map((e) => e.seq).filter(first50)
      expect(head50).to.deep.equal([...bg, ...rest])
      // Pages of 3 stitch back to the same order, across the group boundary.
      const paged: string[] = []
      let after: { seq: string; action: (typeof all)[number]['action'] } | undefined
      for (;;) {
        const page = await auditReport(db, {
          tables,
          breakGlassFirst: true,
          limit: 3,
          ...(after ? { after } : {}),
        })
        paged.push(...page.map((e) => e.seq))
        if (page.length < 3) break
        after = page.at(-1)!
      }
      expect(paged).to.deep.equal(all.map((e) => e.seq))
      const plain = await auditReport(db, {
        tables,
        limit: 5,
        after: { seq: '10', action: 'grant' },
      })
      expect(plain.map((e) => e.seq)).to.deep.equal(['11', '12', '13', '14', '15'])
    })

    it('refuses bad filters', async () => {
      await expect(auditReport(db, { tables, limit: 0 })).to.be.rejectedWith(
        ValidationError,
        '"limit"',
      )
      await expect(auditReport(db, { tables, limit: 10_001 })).to.be.rejectedWith(
        ValidationError,
      )
      await expect(
        auditReport(db, { tables, action: 'nope' as 'grant' }),
      ).to.be.rejectedWith(ValidationError, '"action"')
      await expect(auditReport(db, { tables, action: [] })).to.be.rejectedWith(
        ValidationError,
      )
      // Ids are UUID strings: a Buffer (the stored form), bare hex, a UUID with
      // spaces or braces are refused before anything is read.
      const id = PATIENTS[0]
      for (const [field, value] of [
        ['patientId', id],
        ['patientId', id.toString('hex')],
        ['patientId', ` ${uuid(id)}`],
        ['patientId', `{${uuid(id)}}`],
        ['patientId', uuid(id).slice(1)],
        ['actorUserId', 42],
        ['targetUserId', ''],
      ] as const) {
        await expect(
          auditReport(db, { tables, [field]: value as never }),
          `${field} = ${String(value)}`,
        ).to.be.rejectedWith(ValidationError, `"${field}" must be a UUID string`)
      }
      for (const seq of [10n, 10, '010', '1e3', ''] as const) {
        await expect(
          auditReport(db, { tables, after: { seq: seq as never, action: 'grant' } }),
          `after.seq = ${String(seq)}`,
        ).to.be.rejectedWith(ValidationError, '"after.seq"')
      }
      await expect(
        auditReport(db, { tables, from: new Date(Number.NaN) }),
      ).to.be.rejectedWith(ValidationError, '"from"')
      await expect(
        auditReport(db, { tables: { log: 'audit_log`; DROP TABLE x', head: 'h' } }),
      ).to.be.rejectedWith(ValidationError, '"tables"')
    })
  })
})

describe('audit head: appendAudit refuses a head it cannot authenticate', () => {
  const key = randomBytes(32)
  let db: Knex
  let tables: AuditTables

  beforeEach(async () => {
    db = testDb()
    tables = await createPrivateAuditTables(db, 'headguard')
    await appendEvents(db, key, tables, 5)
  })

  afterEach(async () => {
    await dropPrivateAuditTables(db, tables)
  })

  const appendOne = () =>
    db.transaction((trx) => appendAudit(trx, key, eventFor(5), tables))

  it('a head moved back over deleted rows cannot be extended (no MAC oracle)', async () => {
    // The attacker deletes row 5 and points the head at row 4; they cannot make
    // its head MAC, and appendAudit must not MAC new rows onto the cut chain.
    const rows = await allRows(db, tables)
    await db(tables.log).where('seq', 5).del()
    await db(tables.head).update({ last_seq: 4, last_mac: rows[3]!.mac })
    await expect(appendOne()).to.be.rejectedWith(
      IntegrityError,
      'failed its integrity check',
    )
    expect(await db(tables.log).count({ n: '*' })).to.deep.equal([{ n: '4' }])
    expect(await verifyAuditChain(db, key, { tables })).to.include({
      ok: false,
      problem: 'head',
      firstBadSeq: '4',
    })
  })

  it('a head reset to genesis over a non-empty log cannot be extended either', async () => {
    // Genesis is accepted without a key, so append would build seq 1 again: the
    // INSERT then collides with the existing row 1 and the transaction fails.
    await db(tables.head).update({
      last_seq: 0,
      last_mac: auditGenesisMac(),
      head_mac: auditGenesisMac(),
    })
    await expect(appendOne()).to.be.rejected
    expect(await verifyAuditChain(db, key, { tables })).to.include({
      ok: false,
      problem: 'head',
      firstBadSeq: '1',
    })
  })

  it('a missing head row is an IntegrityError', async () => {
    await db(tables.head).del()
    await expect(appendOne()).to.be.rejectedWith(IntegrityError, 'is missing')
    expect(await verifyAuditChain(db, key, { tables })).to.include({
      ok: false,
      problem: 'head',
      firstBadSeq: '6',
      rows: 5,
    })
  })

  it('a different audit key cannot extend the chain', async () => {
    await expect(
      db.transaction((trx) => appendAudit(trx, randomBytes(32), eventFor(5), tables)),
    ).to.be.rejectedWith(IntegrityError)
    expect(await verifyAuditChain(db, key, { tables })).to.include({ ok: true, rows: 5 })
  })
})

describe('audit chain: a batch of events in one append (private tables)', () => {
  const key = randomBytes(32)
  let db: Knex
  let tables: AuditTables

  before(async () => {
    db = testDb()
    tables = await createPrivateAuditTables(db, 'batch')
  })

  after(async () => {
    await dropPrivateAuditTables(db, tables)
  })

  it('appends the events in order as consecutive seqs, one moment, each MAC chained to the one before', async () => {
    await appendEvents(db, key, tables, 2)
    const events = [2, 3, 4].map(eventFor)
    const seqs = await db.transaction((trx) => appendAudits(trx, key, events, tables))
    expect(seqs).to.deep.equal(['3', '4', '5'])
    const rows = await allRows(db, tables)
    expect(rows.map((r) => r.action)).to.deep.equal(
      [0, 1, 2, 3, 4].map((i) => eventFor(i).action),
    )
    expect(new Set(rows.slice(2).map((r) => r.occurred_at.getTime())).size).to.equal(1)
    for (const [i, row] of rows.entries()) {
      if (i < 2) continue
      const e = eventFor(i)
      expect(row.mac).to.deep.equal(
        auditRowMac(key, rows[i - 1]!.mac, {
          seq: BigInt(i + 1),
          occurredAt: row.occurred_at,
          actorUserId: e.actorUserId,
          action: e.action,
          patientId: e.patientId ?? null,
          targetUserId: e.targetUserId ?? null,
          outcome: e.outcome,
          reason: e.reason ?? null,
          detail: e.detail ?? null,
        }),
      )
    }
    expect(await headRow(db, tables)).to.deep.include({
      last_seq: '5',
      last_mac: rows[4]!.mac,
      head_mac: auditHeadMac(key, 5n, rows[4]!.mac),
    })
    expect(await verifyAuditChain(db, key, { tables })).to.include({ ok: true, rows: 5 })
  })

  it('one bad event anywhere in the batch is a ValidationError and writes none of them', async () => {
    const before = await headRow(db, tables)
    for (const bad of [0, 2]) {
      const events = [5, 6, 7].map(eventFor)
      events[bad] = { ...events[bad]!, outcome: 'ok' } as unknown as AuditEvent
      await expect(
        db.transaction((trx) => appendAudits(trx, key, events, tables)),
      ).to.be.rejectedWith(ValidationError, '"outcome"')
    }
    await expect(
      db.transaction((trx) => appendAudits(trx, key, [], tables)),
    ).to.be.rejectedWith(ValidationError, '"events"')
    expect(await headRow(db, tables)).to.deep.equal(before)
    expect(await allRows(db, tables)).to.have.length(5)
  })
})
