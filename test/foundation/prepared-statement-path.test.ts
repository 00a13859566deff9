import { expect } from 'chai'
import type { Knex } from 'knex'
import type mysql from 'mysql2/promise'
import { DatabaseError } from '../../src/errors/index.js'
import { executeWrite, selectRows } from '../../src/sql/prepared.js'
import { preparedEvidence, statementText } from '../support/statement-history.js'
import { observerConnection, testDb } from '../support/test-env.js'
import { canaryKey, containsKey, errorSurface } from './leak-probe.js'

async function statementHistory(observer: mysql.Connection): Promise<string> {
  return (await statementText(observer)).toString('latin1')
}

describe('prepared-statement path (docs/threat-model.md)', () => {
  let db: Knex
  let observer: mysql.Connection

  before(async () => {
    db = testDb()
    observer = await observerConnection()
    await db.schema.createTable('leak_probe', (t) => {
      t.specificType('k', 'VARBINARY(32)').primary()
    })
  })

  after(async () => {
    await db.schema.dropTableIfExists('leak_probe')
    await observer.end()
  })

  it('keeps a key bound into a failing statement out of the error, its stack, cause and fields', async () => {
    const key = canaryKey()
    const insert = db('leak_probe').insert({ k: key })
    await executeWrite(db, insert)

    const err = await executeWrite(
      db,
      db('leak_probe').insert({ k: key }),
      'probe insert',
    ).then(
      () => expect.fail('duplicate insert should fail'),
      (e: unknown) => e,
    )
    expect(err).to.be.instanceOf(DatabaseError)
    const dbErr = err as DatabaseError
    expect(dbErr.code).to.equal('DATABASE')
    expect(dbErr.driverCode).to.equal('ER_DUP_ENTRY')
    expect(dbErr.errno).to.equal(1062)
    expect(dbErr.constraint).to.match(/PRIMARY$/)
    expect(containsKey(errorSurface(err), key)).to.equal(false)

    // Control: the same failure through knex's default path does carry the key,
    // so the search above is able to find it.
    const knexErr = await db('leak_probe')
      .insert({ k: key })
      .then(
        () => expect.fail('duplicate insert should fail'),
        (e: unknown) => e,
      )
    expect(containsKey(errorSurface(knexErr), key)).to.equal(true)
  })

  it('leaves no key in performance_schema statement history (read from a second connection)', async () => {
    const key = canaryKey()
    const marker = `probe_${key.subarray(7, 15).toString('latin1')}`
    const rows = await selectRows<{ n: number }>(
      db,
      db.raw(`SELECT LENGTH(AES_ENCRYPT('x', ?, ?)) AS n, '${marker}' AS m`, [
        key,
        Buffer.alloc(16, 1),
      ]),
    )
    expect(Number(rows[0]?.n)).to.equal(16)

    const history = await statementHistory(observer)
    expect(history).to.include(
      await preparedEvidence(observer, marker),
      'the prepared statement itself is in the history',
    )
    expect(containsKey(history, key)).to.equal(false)

    // Control: knex's default query() path puts the key into the history.
    const other = canaryKey()
    await db.raw(`SELECT LENGTH(AES_ENCRYPT('x', ?, ?)) AS n`, [
      other,
      Buffer.alloc(16, 1),
    ])
    expect(containsKey(await statementHistory(observer), other)).to.equal(true)
  })

  it('runs on the transaction connection and is rolled back with it', async () => {
    const key = canaryKey()
    await db
      .transaction(async (trx) => {
        await executeWrite(trx, trx('leak_probe').insert({ k: key }))
        const inside = await selectRows<{ n: number }>(
          trx,
          trx('leak_probe').count({ n: '*' }).where({ k: key }),
        )
        expect(Number(inside[0]?.n)).to.equal(1)
        throw new Error('roll back')
      })
      .catch((e: Error) => expect(e.message).to.equal('roll back'))
    const after = await selectRows<{ n: number }>(
      db,
      db('leak_probe').count({ n: '*' }).where({ k: key }),
    )
    expect(Number(after[0]?.n)).to.equal(0)
  })

  it('gives every pooled connection block_encryption_mode aes-256-cbc, UTC and strict mode', async () => {
    const settings = async (): Promise<Record<string, string>> => {
      const [row] = await selectRows<Record<string, string>>(
        db,
        db.raw(
          'SELECT @@session.block_encryption_mode AS mode, @@session.time_zone AS tz, @@session.sql_mode AS sqlMode',
        ),
      )
      return row ?? {}
    }
    // Several at once, so more than one pooled connection is used.
    const all = await Promise.all([settings(), settings(), settings(), settings()])
    for (const s of all) {
      expect(s.mode).to.equal('aes-256-cbc')
      expect(s.tz).to.equal('+00:00')
      expect(s.sqlMode).to.include('STRICT_ALL_TABLES')
    }
    const [viaKnex] = (await db.raw('SELECT @@session.block_encryption_mode AS mode'))[0]
    expect(viaKnex.mode).to.equal('aes-256-cbc')
  })
})
