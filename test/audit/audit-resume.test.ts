import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { ValidationError } from '../../src/errors/index.js'
import type { AuditTables } from '../../src/repositories/audit-log.row.js'
import {
  verifyAuditChain,
  type AuditHeadState,
  type AuditVerifyOptions,
} from '../../src/services/audit-verify.js'
import { expect } from '../support/chai.js'
import { testDb } from '../support/test-env.js'
import {
  appendEvents,
  clonePrivateAuditTables,
  createPrivateAuditTables,
  dropPrivateAuditTables,
} from './chain-support.js'

/**
 * A verify resumed from an anchor checks the anchor row and the rows after it
 * only. Each scenario tampers with its own copy of one chain: 30 rows anchored,
 * then 12 more (chain-support.ts).
 */
describe('audit verify resumed from an anchor: only the rows after it', () => {
  const key = randomBytes(32)
  let db: Knex
  let pristine: AuditTables
  let anchor: AuditHeadState
  const copies: AuditTables[] = []

  before(async () => {
    db = testDb()
    pristine = await createPrivateAuditTables(db, 'resume')
    await appendEvents(db, key, pristine, 30)
    const first = await verifyAuditChain(db, key, { tables: pristine })
    if (!first.ok) throw new Error('the fresh chain does not verify')
    anchor = first.head
    await appendEvents(db, key, pristine, 12, 30)
  })

  after(async () => {
    for (const t of [pristine, ...copies]) await dropPrivateAuditTables(db, t)
  })

  async function copy(): Promise<AuditTables> {
    const t = await clonePrivateAuditTables(db, pristine, 'resumed')
    copies.push(t)
    return t
  }

  const resumed = (tables: AuditTables, opts: Partial<AuditVerifyOptions> = {}) =>
    verifyAuditChain(db, key, { tables, anchor, resume: true, pageSize: 5, ...opts })

  const editDetail = (tables: AuditTables, seq: number) =>
    db(tables.log).where({ seq }).update({ detail: 'edited' })

  it('checks the 12 rows after the anchor and ends at the head a full run ends at', async () => {
    const progress: number[] = []
    const result = await resumed(pristine, { onProgress: (n) => progress.push(n) })
    const full = await verifyAuditChain(db, key, { tables: pristine })
    expect(result).to.deep.include({
      ok: true,
      rows: 12,
      lastSeq: '42',
      resumedAfter: '30',
    })
    expect(full).to.include({ ok: true, rows: 42 })
    expect(result.head).to.deep.equal(full.head)
    expect(progress).to.deep.equal([5, 10, 12])
  })

  it('an anchor at the head checks no row; one at seq 1 checks the rest', async () => {
    const full = await verifyAuditChain(db, key, { tables: pristine })
    if (!full.ok) throw new Error('the pristine chain does not verify')
    expect(await resumed(pristine, { anchor: full.head })).to.include({
      ok: true,
      rows: 0,
      lastSeq: '42',
    })
    const [row1] = await db(pristine.log).where({ seq: 1 }).select('mac')
    expect(
      await resumed(pristine, {
        anchor: { lastSeq: '1', lastMac: (row1.mac as Buffer).toString('hex') },
      }),
    ).to.include({ ok: true, rows: 41 })
  })

  it('finds an edit, a deletion and an insertion after the anchor', async () => {
    const edited = await copy()
    await editDetail(edited, 35)
    expect(await resumed(edited)).to.include({
      ok: false,
      problem: 'mac',
      firstBadSeq: '35',
      rows: 4,
    })

    const deleted = await copy()
    await db(deleted.log).where({ seq: 36 }).del()
    expect(await resumed(deleted)).to.include({
      ok: false,
      problem: 'gap',
      firstBadSeq: '37',
      expectedSeq: '36',
    })

    // The last row cut off and the head left: the head names a row that is gone.
    const cut = await copy()
    await db(cut.log).where({ seq: 42 }).del()
    expect(await resumed(cut)).to.include({ ok: false, problem: 'head' })
  })

  it('finds the anchor row edited, deleted, or not the row the anchor recorded', async () => {
    const edited = await copy()
    await editDetail(edited, 30)
    expect(await resumed(edited)).to.include({
      ok: false,
      problem: 'anchor',
      firstBadSeq: '30',
      rows: 0,
    })

    const deleted = await copy()
    await db(deleted.log).where({ seq: 30 }).del()
    const gone = await resumed(deleted)
    expect(gone).to.include({ ok: false, problem: 'anchor', firstBadSeq: '30' })
    expect(!gone.ok && gone.message).to.match(/no row 30/)

    const other = { lastSeq: '30', lastMac: randomBytes(32).toString('hex') }
    expect(await resumed(pristine, { anchor: other })).to.include({
      ok: false,
      problem: 'anchor',
      firstBadSeq: '30',
    })
  })

  it('does not see an edit before the anchor; a full run does (the documented limit)', async () => {
    const edited = await copy()
    await editDetail(edited, 10)
    expect(await resumed(edited)).to.include({ ok: true, rows: 12 })
    expect(await verifyAuditChain(db, key, { tables: edited, anchor })).to.include({
      ok: false,
      problem: 'mac',
      firstBadSeq: '10',
    })
  })

  it('refuses resume without an anchor, or not a boolean, naming the field', async () => {
    for (const opts of [{ resume: true }, { resume: 'yes', anchor }]) {
      const err = await verifyAuditChain(db, key, {
        tables: pristine,
        ...(opts as object),
      }).catch((e: unknown) => e)
      expect(err).to.be.instanceOf(ValidationError)
      expect((err as ValidationError).field).to.equal('resume')
    }
  })
})
