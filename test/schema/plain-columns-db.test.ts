import { randomBytes } from 'node:crypto'
import { expect } from '../support/chai.js'
import { plain } from '../../src/schema/plain-columns.js'
import { executeWrite, selectRows } from '../../src/sql/prepared.js'
import { testDb } from '../support/test-env.js'

/**
 * Plain columns through a real server, under the connection settings of
 * db/connection.ts (timezone 'Z', bigNumberStrings) and the session's UTC
 * time_zone: written and read both as prepared statements (mysql2's binary
 * protocol, sql/prepared.ts) and through knex (the text protocol).
 */
describe('plain columns on the server', () => {
  const table = `plain_columns_${randomBytes(4).toString('hex')}`
  const at = plain.dateTime()
  const flag = plain.boolean()
  const n = plain.integer()
  const rid = plain.rowId()

  const instants = [
    '1000-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '2024-02-29T12:34:56.789Z',
    '1970-01-01T00:00:00.001Z',
    '2026-03-29T01:30:00.500Z', // an hour that does not exist in Europe's local time
  ]

  const values = (i: number) => ({
    k: i,
    at: at.toDriver(new Date(instants[i % instants.length]!), 'at'),
    flag: flag.toDriver(i % 2 === 0, 'flag'),
    n: n.toDriver(i % 2 === 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER, 'n'),
    rid: rid.toDriver('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 'rid'),
  })

  before(async () => {
    await testDb().schema.createTable(table, (t) => {
      t.integer('k').primary()
      t.specificType('at', 'DATETIME(3) NOT NULL')
      t.specificType('flag', 'TINYINT(1) NOT NULL')
      t.specificType('n', 'BIGINT NOT NULL')
      t.specificType('rid', 'BINARY(16) NOT NULL')
    })
    // Rows 0..count-1 written as prepared statements, the next ones through knex.
    const db = testDb()
    const count = instants.length
    for (let i = 0; i < count; i++) {
      await executeWrite(db, db(table).insert(values(i)), 'insert plain row')
    }
    for (let i = count; i < 2 * count; i++) await db(table).insert(values(i))
  })

  after(async () => {
    await testDb().schema.dropTableIfExists(table)
  })

  it('reads every value back exactly, UTC to the millisecond, on both protocols', async () => {
    const db = testDb()
    const count = instants.length
    type Row = { k: number; at: unknown; flag: unknown; n: unknown; rid: unknown }
    const prepared = await selectRows<Row>(db, db(table).select().orderBy('k'))
    const text = (await db(table).select().orderBy('k')) as Row[]
    for (const rows of [prepared, text]) {
      expect(rows).to.have.length(2 * count)
      for (const row of rows) {
        const i = row.k
        expect(at.fromDriver(row.at).toISOString(), `row ${i}`).to.equal(
          instants[i % count],
        )
        expect(flag.fromDriver(row.flag)).to.equal(i % 2 === 0)
        expect(n.fromDriver(row.n)).to.equal(
          i % 2 === 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER,
        )
        expect(rid.fromDriver(row.rid)).to.equal('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')
      }
    }
  })

  it('stores the UTC wall-clock time, so other SQL clients read the same instant', async () => {
    const db = testDb()
    const rows = await selectRows<{ k: number; s: string }>(
      db,
      db(table)
        .select('k', db.raw("DATE_FORMAT(at, '%Y-%m-%dT%H:%i:%s.%f') AS s"))
        .orderBy('k'),
    )
    for (const { k, s } of rows) {
      // %f is microseconds: the three digits DATETIME(3) keeps, then 000.
      expect(`${s.slice(0, 23)}Z`, `row ${k}`).to.equal(instants[k % instants.length])
      expect(s.slice(23)).to.equal('000')
    }
  })
})
