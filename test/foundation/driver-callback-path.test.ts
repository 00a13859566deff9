import diagnosticsChannel from 'node:diagnostics_channel'
import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { ConfigurationError, DatabaseError } from '../../src/errors/index.js'
import { executeWrite, selectRows } from '../../src/sql/prepared.js'
import { testDb } from '../support/test-env.js'
import { canaryKey, containsKey, errorSurface } from './leak-probe.js'

/**
 * prepared.ts calls mysql2's callback API (not `connection.promise()`, which
 * captured a stack per statement): its failures must still leave as codes only,
 * and the diagnostics-channel refusal, whose channel objects are now looked up
 * once, must still see every way of subscribing.
 */
describe('prepared-statement path on the driver callback API', () => {
  let db: Knex

  before(async () => {
    db = testDb()
    await db.schema.createTable('callback_probe', (t) => {
      t.integer('n').notNullable()
    })
  })

  after(async () => {
    await db.schema.dropTableIfExists('callback_probe')
  })

  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('should have failed'),
      (e: unknown) => e,
    )

  it('turns a server error that quotes the bound value into a DatabaseError without it', async () => {
    const key = canaryKey()
    // Strict mode: "Incorrect integer value: 'CANARY-…' for column 'n'" from the server.
    const err = await rejection(
      executeWrite(
        db,
        db('callback_probe').insert({ n: key.toString('latin1') }),
        'probe',
      ),
    )
    expect(err).to.be.instanceOf(DatabaseError)
    const dbErr = err as DatabaseError
    expect(dbErr.errno).to.be.a('number')
    expect(dbErr.message).to.match(/^probe failed: ER_/)
    expect(dbErr.cause).to.equal(undefined)
    expect(containsKey(errorSurface(err), key)).to.equal(false)
    // The stack is the DatabaseError's own, not the driver's packet parser.
    expect(dbErr.stack).not.to.include('node_modules/mysql2')
    // Control: the server's own message does quote it, so the search above can find it.
    const raw = await rejection(
      db('callback_probe').insert({ n: key.toString('latin1') }),
    )
    expect(containsKey(errorSurface(raw), key)).to.equal(true)
  })

  it('rejects (not throws) on a bind value mysql2 refuses, sanitised like any other', async () => {
    const key = canaryKey()
    const pending = selectRows(
      db,
      { sql: 'SELECT ? AS a, ? AS b', bindings: [key, undefined] },
      'probe select',
    )
    const err = await rejection(pending)
    expect(err).to.be.instanceOf(DatabaseError)
    expect((err as Error).message).to.match(/^probe select failed:/)
    expect(containsKey(errorSurface(err), key)).to.equal(false)
  })

  it('refuses a tracing subscriber added after start-up, also in the middle of a transaction', async () => {
    const tracing = diagnosticsChannel.tracingChannel('mysql2:execute')
    const handlers = {
      start: () => {},
      end: () => {},
      asyncStart: () => {},
      asyncEnd: () => {},
      error: () => {},
    }
    const err = await rejection(
      db.transaction(async (trx) => {
        await selectRows(trx, { sql: 'SELECT 1 AS one', bindings: [] })
        tracing.subscribe(handlers)
        await selectRows(trx, { sql: 'SELECT ? AS k', bindings: [canaryKey()] })
      }),
    ).finally(() => tracing.unsubscribe(handlers))
    expect(err).to.be.instanceOf(ConfigurationError)
    expect((err as Error).message).to.include('tracing:mysql2:execute:start')
    const [row] = await selectRows<{ one: unknown }>(db, {
      sql: 'SELECT 1 AS one',
      bindings: [],
    })
    expect(Number(row?.one)).to.equal(1)
  })
})
