import { randomBytes } from 'node:crypto'
import { observerConnection } from './test-env.js'

/**
 * Runs `body` on a database of its own, created empty on the test server and
 * dropped afterwards whatever happens: for tests of the schema itself
 * (migrations, the history tables), which must not touch the run's shared,
 * migrated database.
 */
export async function withFreshDatabase<T>(
  prefix: string,
  body: (database: string) => Promise<T>,
): Promise<T> {
  const database = `${prefix}_${randomBytes(4).toString('hex')}`
  const admin = await observerConnection()
  try {
    await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`)
    try {
      return await body(database)
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS \`${database}\``)
    }
  } finally {
    await admin.end()
  }
}
