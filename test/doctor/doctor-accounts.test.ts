import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import mysql from 'mysql2/promise'
import { runDoctor } from '../../src/services/doctor.service.js'
import { testDb, testDbConfig } from '../support/test-env.js'
import {
  check,
  engineUnderTest,
  testDatabase,
  withAccount,
  type TestAccount,
} from './doctor-support.js'

const APP_GRANTS = ['GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.* TO {user}']

function appGrants(): string[] {
  return APP_GRANTS.map((g) => g.replace('{db}', testDatabase()))
}

async function connect(account: TestAccount): Promise<mysql.Connection> {
  const c = testDbConfig()
  return mysql.createConnection({
    host: c.host,
    port: c.port,
    user: account.user,
    password: account.password,
  })
}

/**
 * What `watcher` sees of a prepared statement `runner` is running, bound to a
 * marker: the rows of `sql` whose text mentions the statement.
 */
async function seenWhileRunning(
  runner: mysql.Connection,
  watcher: mysql.Connection,
  sql: string,
): Promise<{ marker: string; seen: string[] }> {
  const marker = `marker${randomBytes(8).toString('hex')}`
  const running = runner.execute('SELECT SLEEP(1) AS s, ? AS m', [marker])
  await new Promise((resolve) => setTimeout(resolve, 300))
  const [rows] = (await watcher.query(sql)) as unknown as [{ info: string | null }[]]
  await running
  return {
    marker,
    seen: rows
      .map((r) => r.info ?? '')
      .filter((info) => info.startsWith('SELECT SLEEP(1)')),
  }
}

describe('doctor: accounts that can watch statements', () => {
  let engine: 'mysql' | 'mariadb'
  before(async () => {
    engine = await engineUnderTest()
  })

  it('WARNs another account holding PROCESS, FAILs it in production mode, naming it', async () => {
    await withAccount(['GRANT PROCESS ON *.* TO {user}'], async (other) => {
      const quoted = `'${other.user}'@'%'`
      const dev = check(
        await runDoctor(testDb(), { production: false }),
        'watching_accounts',
      )
      expect(dev.status).to.equal('WARN')
      expect(dev.detail).to.include(`${quoted} (PROCESS)`)
      const prod = check(
        await runDoctor(testDb(), { production: true }),
        'watching_accounts',
      )
      expect(prod.status).to.equal('FAIL')
      expect(prod.detail).to.include(`${quoted} (PROCESS)`)
    })
  })

  it('follows roles: SELECT on performance_schema.threads granted through two roles counts', async () => {
    const suffix = randomBytes(3).toString('hex')
    const [outer, inner] = [`doctor_r1_${suffix}`, `doctor_r2_${suffix}`]
    await withAccount(
      [
        `CREATE ROLE ${inner}`,
        `GRANT SELECT ON performance_schema.threads TO ${inner}`,
        `CREATE ROLE ${outer}`,
        `GRANT ${inner} TO ${outer}`,
        `GRANT ${outer} TO {user}`,
      ],
      async (other) => {
        const line = check(
          await runDoctor(testDb(), { production: false }),
          'watching_accounts',
        )
        expect(line.status).to.equal('WARN')
        expect(line.detail).to.include(
          `'${other.user}'@'%' (SELECT on performance_schema.threads)`,
        )
        // Roles are not accounts: neither is listed itself.
        expect(line.detail).not.to.include(`'${inner}'`)
      },
      [outer, inner],
    )
  })

  it('with a least-privilege application account: cannot check others (WARN), its own grants PASS', async () => {
    await withAccount(appGrants(), async (app) => {
      const checks = await runDoctor(app.db, { production: true })
      const watching = check(checks, 'watching_accounts')
      expect(watching.status).to.equal('WARN') // WARN even in production mode
      expect(watching.detail).to.match(/^Cannot check/)
      expect(watching.fix).to.match(/appUser/)
      const own = check(checks, 'app_account_privileges')
      expect(own.status).to.equal('PASS')
      expect(own.detail).to.match(
        new RegExp(
          `^'${app.user}'@'%' holds none of .*\\(direct grants; roles not visible`,
        ),
      )
    })
  })

  it('run by a DBA with appUser: the application account PASSes and root counts as another account', async () => {
    await withAccount(appGrants(), async (app) => {
      const checks = await runDoctor(testDb(), { appUser: app.name, production: false })
      expect(check(checks, 'app_account_privileges').status).to.equal('PASS')
      expect(check(checks, 'app_account_privileges').detail).not.to.include(
        'direct grants',
      )
      const watching = check(checks, 'watching_accounts')
      expect(watching.status).to.equal('WARN')
      expect(watching.detail).to.include("'root'@'localhost' (PROCESS")
      const unknown = await runDoctor(testDb(), {
        appUser: 'nobody_here@%',
        production: false,
      })
      expect(check(unknown, 'app_account_privileges').status).to.equal('WARN')
      expect(check(unknown, 'app_account_privileges').detail).to.match(
        /No unlocked account/,
      )
    })
  })

  // Why these privileges count (doctor-grants.ts): what each engine shows of a
  // running prepared statement. The rules rest on these observations.
  it('shows why: on MySQL, SELECT on performance_schema.threads and the same account see a running prepared statement expanded; MariaDB shows ?', async () => {
    await withAccount(appGrants(), async (app) => {
      await withAccount(
        ['GRANT SELECT ON performance_schema.threads TO {user}'],
        async (watcher) => {
          const [runner, sameAccount, threadsReader] = await Promise.all([
            connect(app),
            connect(app),
            connect(watcher),
          ])
          try {
            const own = await seenWhileRunning(
              runner,
              sameAccount,
              'SELECT INFO AS info FROM information_schema.PROCESSLIST',
            )
            const threads = await seenWhileRunning(
              runner,
              threadsReader,
              'SELECT PROCESSLIST_INFO AS info FROM performance_schema.threads',
            )
            if (engine === 'mysql') {
              expect(own.seen).to.deep.equal([
                `SELECT SLEEP(1) AS s, '${own.marker}' AS m`,
              ])
              expect(threads.seen).to.deep.equal([
                `SELECT SLEEP(1) AS s, '${threads.marker}' AS m`,
              ])
            } else {
              expect(own.seen).to.deep.equal(['SELECT SLEEP(1) AS s, ? AS m'])
              expect(threads.seen.join()).not.to.include(threads.marker)
            }
          } finally {
            await Promise.all([runner.end(), sameAccount.end(), threadsReader.end()])
          }
        },
      )
    })
  })
})
