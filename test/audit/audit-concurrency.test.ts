import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import type { AuditTables } from '../../src/repositories/audit-log.row.js'
import { appendAudit, verifyAuditChain } from '../../src/services/audit.service.js'
import { expect } from '../support/chai.js'
import { testDb } from '../support/test-env.js'
import {
  allRows,
  createPrivateAuditTables,
  dropPrivateAuditTables,
  eventFor,
} from './chain-support.js'

describe('audit chain under concurrent sessions', () => {
  const key = randomBytes(32)
  const WORKERS = 8
  const EACH = 25
  let db: Knex
  let tables: AuditTables

  before(async () => {
    db = testDb()
    tables = await createPrivateAuditTables(db, 'concurrent')
  })

  after(async () => {
    await dropPrivateAuditTables(db, tables)
  })

  it('8 workers × 25 appends, each in its own pooled transaction: seqs 1..200, no gap or duplicate, verify ok', async () => {
    // Each worker's transaction also does work before appending (as a service
    // would), so transactions overlap and queue on the head lock.
    const worker = async (w: number): Promise<bigint[]> => {
      const mine: bigint[] = []
      for (let i = 0; i < EACH; i++) {
        const seq = await db.transaction(async (trx) => {
          await trx.raw('SELECT 1')
          return appendAudit(trx, key, eventFor(w * EACH + i), tables)
        })
        mine.push(BigInt(seq))
      }
      return mine
    }
    // Verify runs while the appends do: its snapshot must always be consistent.
    const verifications: Promise<unknown>[] = []
    const appends = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
    for (let v = 0; v < 5; v++) {
      verifications.push(
        verifyAuditChain(db, key, { tables, pageSize: 13 }).then((r) => {
          expect(r.ok, JSON.stringify(r)).to.equal(true)
        }),
      )
      await new Promise((resolve) => setTimeout(resolve, 40))
    }
    const perWorker = await appends
    await Promise.all(verifications)

    const all = perWorker.flat().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    expect(all).to.deep.equal(
      Array.from({ length: WORKERS * EACH }, (_, i) => BigInt(i + 1)),
    )
    // Each worker's own appends come back in increasing order.
    for (const mine of perWorker)
      expect(mine).to.deep.equal([...mine].sort((a, b) => (a < b ? -1 : 1)))
    // The workers really interleaved (not one after another).
    const firstOf = perWorker.map((mine) => mine[0]!)
    expect(Math.max(...firstOf.map(Number))).to.be.below(WORKERS * EACH - EACH)

    const rows = await allRows(db, tables)
    expect(rows.map((r) => r.seq)).to.deep.equal(all.map(String))
    for (let i = 1; i < rows.length; i++)
      expect(rows[i]!.occurred_at.getTime()).to.be.at.least(
        rows[i - 1]!.occurred_at.getTime(),
      )
    expect(await verifyAuditChain(db, key, { tables })).to.include({
      ok: true,
      rows: 200,
      lastSeq: '200',
    })
  })
})
