import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import mysql from 'mysql2/promise'
import { engineUnderTest } from '../doctor/doctor-support.js'
import { useOwnDatabase } from '../support/own-database.js'
import { testDbConfig } from '../support/test-env.js'

// A key bound as a value of the statement, as the layer binds its subkeys. Its
// bytes are printable so that the test can find them: a random binary key comes
// out of MySQL's deadlock report with every byte that is not valid UTF-8
// replaced by '?' (measured on MySQL 9.7), the rest in clear.
function printableKey(): Buffer {
  return Buffer.from(randomBytes(24).toString('base64url'), 'latin1')
}

const UPDATE = "UPDATE deadlock_probe SET v = AES_ENCRYPT('x', ?) WHERE id = ?"

/** The "LATEST DETECTED DEADLOCK" section of `SHOW ENGINE INNODB STATUS`. */
async function lastDeadlock(watcher: mysql.Connection): Promise<string> {
  const [rows] = (await watcher.query('SHOW ENGINE INNODB STATUS')) as unknown as [
    { Status: string }[],
  ]
  const status = rows[0]?.Status ?? ''
  const start = status.indexOf('LATEST DETECTED DEADLOCK')
  expect(start, 'the server reports a deadlock').to.be.greaterThan(-1)
  return status.slice(start, status.indexOf('\nTRANSACTIONS\n', start))
}

describe('SHOW ENGINE INNODB STATUS: the last deadlock of prepared statements bound to a key', () => {
  const own = useOwnDatabase()
  let engine: 'mysql' | 'mariadb'
  let connections: mysql.Connection[] = []

  before(async () => {
    engine = await engineUnderTest()
    await own
      .db()
      .raw(
        'CREATE TABLE deadlock_probe (id INT PRIMARY KEY, v VARBINARY(64)) ENGINE=InnoDB',
      )
    await own.db().raw('INSERT INTO deadlock_probe (id, v) VALUES (1, NULL), (2, NULL)')
  })

  afterEach(async () => {
    await Promise.all(connections.map((c) => c.end()))
    connections = []
  })

  async function connect(): Promise<mysql.Connection> {
    const c = testDbConfig()
    const connection = await mysql.createConnection({
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      database: own.name(),
    })
    connections.push(connection)
    return connection
  }

  /** Waits until some transaction waits for a row lock (no fixed delay). */
  async function untilLockWait(watcher: mysql.Connection): Promise<void> {
    // MySQL's information_schema.INNODB_TRX would also say so, but reading it
    // fails while trx_query holds the expanded key (ER_CANNOT_CONVERT_STRING).
    const sql =
      engine === 'mysql'
        ? 'SELECT COUNT(*) AS n FROM performance_schema.data_lock_waits'
        : 'SELECT COUNT(*) AS n FROM information_schema.INNODB_LOCK_WAITS'
    for (;;) {
      const [rows] = (await watcher.query(sql)) as unknown as [{ n: number }[]]
      if (Number(rows[0]?.n) > 0) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  it('shows the statements of both transactions: on MySQL with the bound key expanded, on MariaDB with ? only', async () => {
    const [a, b, watcher] = await Promise.all([connect(), connect(), connect()])
    const [keyA, keyB] = [printableKey(), printableKey()]
    await a.beginTransaction()
    await b.beginTransaction()
    await a.execute(UPDATE, [keyA, 1])
    await b.execute(UPDATE, [keyB, 2])
    const first = a.execute(UPDATE, [keyA, 2]).then(
      () => 'done',
      (e: { code?: string }) => e.code,
    )
    await untilLockWait(watcher)
    const second = b.execute(UPDATE, [keyB, 1]).then(
      () => 'done',
      (e: { code?: string }) => e.code,
    )
    // The server rolls one transaction back, which lets the other's statement run.
    const outcomes = await Promise.all([first, second])
    await Promise.all([a.rollback(), b.rollback()])
    expect(outcomes.sort()).to.deep.equal(['ER_LOCK_DEADLOCK', 'done'])

    const report = await lastDeadlock(watcher)
    if (engine === 'mysql') {
      expect(report).to.include(
        `UPDATE deadlock_probe SET v = AES_ENCRYPT('x', '${keyA.toString('latin1')}') WHERE id = 2`,
      )
      expect(report).to.include(
        `UPDATE deadlock_probe SET v = AES_ENCRYPT('x', '${keyB.toString('latin1')}') WHERE id = 1`,
      )
    } else {
      expect(report).to.include(UPDATE)
      expect(report).not.to.include(keyA.toString('latin1'))
      expect(report).not.to.include(keyB.toString('latin1'))
    }
  })
})
