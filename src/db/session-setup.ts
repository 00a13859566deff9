import { ConfigurationError } from '../errors/index.js'
import { assertSupportedServer } from './server-version.js'

/**
 * Session settings every pooled connection gets before first use.
 * - `block_encryption_mode`: MySQL's default is aes-128-ecb (mysql-facts.md); the
 *   envelope of DESIGN.md §3 needs aes-256-cbc with an IV.
 * - strict `sql_mode`: an oversize or malformed value is an error, never silently cut.
 * - UTC, so timestamps mean the same on every replica and client.
 */
export const SESSION_SQL =
  "SET SESSION block_encryption_mode = 'aes-256-cbc', " +
  "sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY', " +
  "time_zone = '+00:00'"

/** The subset of a mysql2 callback connection the setup needs. */
export interface SetupConnection {
  query(sql: string, callback: (err: Error | null, rows?: unknown) => void): unknown
}

function run(conn: SetupConnection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    conn.query(sql, (err, rows) => (err ? reject(err) : resolve(rows)))
  })
}

/**
 * Checks the server, then applies {@link SESSION_SQL} and reads the mode back.
 * The version is checked first so that a server without IV support is named
 * plainly instead of failing on the unknown variable.
 */
export async function setupSession(conn: SetupConnection): Promise<void> {
  const [row] = (await run(conn, 'SELECT VERSION() AS version')) as { version: string }[]
  if (!row) throw new ConfigurationError('server did not report its version')
  assertSupportedServer(row.version)
  await run(conn, SESSION_SQL)
  const [check] = (await run(conn, 'SELECT @@session.block_encryption_mode AS mode')) as {
    mode: string
  }[]
  if (check?.mode !== 'aes-256-cbc') {
    throw new ConfigurationError(
      `block_encryption_mode is "${check?.mode}" after setting aes-256-cbc; refusing to use this connection`,
    )
  }
}
