import { randomBytes } from 'node:crypto'
import knex, { type Knex } from 'knex'
import { createDb } from '../../src/db/index.js'
import type { PostureCheck } from '../../src/services/doctor.service.js'
import { observerConnection, testDb, testDbConfig } from '../support/test-env.js'

/** The check with `id`; fails the test if the doctor did not report it. */
export function check(checks: readonly PostureCheck[], id: string): PostureCheck {
  const found = checks.find((c) => c.id === id)
  if (!found) throw new Error(`the doctor reported no "${id}" check`)
  return found
}

/** The flavour of the server under test, from VERSION(). */
export async function engineUnderTest(): Promise<'mysql' | 'mariadb'> {
  const [rows] = (await testDb().raw('SELECT VERSION() AS v')) as [{ v: string }[]]
  return /mariadb/i.test(rows[0]?.v ?? '') ? 'mariadb' : 'mysql'
}

/**
 * Runs `body` with global server settings changed, then puts back the values
 * read before, in `finally`: the test server may be shared with other runs.
 * Keep the window short; callers run serially (mocha's default).
 */
/** mysql2 returns DOUBLE settings as strings, and SET refuses a string for them. */
function settable(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))
    ? Number(value)
    : value
}

export async function withGlobals<T>(
  settings: Record<string, string | number>,
  body: () => Promise<T>,
): Promise<T> {
  const admin = await observerConnection()
  const saved: [string, unknown][] = []
  try {
    for (const [name, value] of Object.entries(settings)) {
      const [rows] = (await admin.query(`SELECT @@GLOBAL.${name} AS v`)) as unknown as [
        { v: unknown }[],
      ]
      saved.push([name, rows[0]?.v])
      await admin.query(`SET GLOBAL ${name} = ?`, [settable(value)])
    }
    return await body()
  } finally {
    for (const [name, value] of saved.reverse()) {
      await admin.query(`SET GLOBAL ${name} = ?`, [settable(value)])
    }
    await admin.end()
  }
}

export interface TestAccount {
  /** As CURRENT_USER() writes it: `user@%`. */
  readonly name: string
  readonly user: string
  readonly password: string
  /** A knex instance (emr-vault's pool settings) logged in as this account. */
  readonly db: Knex
}

/**
 * Creates an account `doctor_<hex>@'%'` with a password made now, runs
 * `grants` (each statement with `{user}` for the quoted account), hands it to
 * `body`, then drops it and any role named in `roles`.
 */
export async function withAccount<T>(
  grants: readonly string[],
  body: (account: TestAccount) => Promise<T>,
  roles: readonly string[] = [],
): Promise<T> {
  const admin = await observerConnection()
  const user = `doctor_${randomBytes(4).toString('hex')}`
  const password = randomBytes(12).toString('base64url')
  const quoted = `'${user}'@'%'`
  let db: Knex | undefined
  try {
    await admin.query(`CREATE USER ${quoted} IDENTIFIED BY '${password}'`)
    for (const grant of grants) await admin.query(grant.replaceAll('{user}', quoted))
    db = createDb({ ...testDbConfig(), user, password, poolMax: 2 })
    return await body({ name: `${user}@%`, user, password, db })
  } finally {
    await db?.destroy()
    await admin.query(`DROP USER IF EXISTS ${quoted}`)
    for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`)
    await admin.end()
  }
}

/** The test database's name, for grants. */
export function testDatabase(): string {
  return testDbConfig().database
}

/**
 * What a new user writes: knex's own mysql2 client on `database` (the run's by
 * default), without emr-vault's session settings. Destroy it after use.
 */
export function rawKnex(database = testDbConfig().database): Knex {
  const c = testDbConfig()
  return knex({
    client: 'mysql2',
    connection: {
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      database,
    },
  })
}
