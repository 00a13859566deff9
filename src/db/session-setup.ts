import { ConfigurationError } from '../errors/index.js'
import { assertSupportedServer } from './server-version.js'

/**
 * Session settings every pooled connection gets before first use.
 * - `block_encryption_mode`: MySQL's default is aes-128-ecb (measured on MySQL 9.7); the
 *   envelope of docs/envelope.md needs aes-256-cbc with an IV.
 * - strict `sql_mode`: an oversize or malformed value is an error, never silently cut.
 * - UTC, so timestamps mean the same on every replica and client.
 */
export const SESSION_SQL =
  "SET SESSION block_encryption_mode = 'aes-256-cbc', " +
  "sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY', " +
  "time_zone = '+00:00'"

/**
 * MariaDB only (11.6.2 and later default it ON; 10.6.18, 10.11.8, 11.2.4, 11.4.2
 * and later have it): with `innodb_snapshot_isolation` ON, a locking read of a
 * row another transaction changed after this transaction's read view was opened
 * fails with ER_CHECKREAD (1020) instead of waiting and reading the latest
 * committed version, as MySQL's InnoDB does. The services are built on the
 * latter: they lock before they decide (patient row, then grants and records)
 * and extend the audit chain from the head row they lock last, a row every
 * audited act changes. With it ON, acts that met another one failed at "lock
 * audit head" (the concurrency soak on MariaDB 11.8: 194 of 1,440 operations in
 * 30 s), and retrying ER_CHECKREAD does not help: a retry opens a new read view
 * and meets the next commit of the head (still 149 of 1,108 operations in 15 s
 * with 4 tries each). OFF gives the MySQL semantics the layer is written and
 * tested for; ER_CHECKREAD then no longer occurs.
 */
export const MARIADB_SESSION_SQL = 'SET SESSION innodb_snapshot_isolation = OFF'

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
 * Checks the server, then applies {@link SESSION_SQL} (and on MariaDB
 * {@link MARIADB_SESSION_SQL}) and reads the mode back.
 * The version is checked first so that a server without IV support is named
 * plainly instead of failing on the unknown variable.
 */
export async function setupSession(conn: SetupConnection): Promise<void> {
  const [row] = (await run(conn, 'SELECT VERSION() AS version')) as { version: string }[]
  if (!row) throw new ConfigurationError('server did not report its version')
  const server = assertSupportedServer(row.version)
  await run(conn, SESSION_SQL)
  if (server.flavour === 'mariadb') {
    const known = (await run(
      conn,
      "SHOW SESSION VARIABLES LIKE 'innodb\\_snapshot\\_isolation'",
    )) as unknown[]
    // Older 11.2 releases lack the variable and behave as OFF.
    if (known.length > 0) await run(conn, MARIADB_SESSION_SQL)
  }
  const [check] = (await run(conn, 'SELECT @@session.block_encryption_mode AS mode')) as {
    mode: string
  }[]
  if (check?.mode !== 'aes-256-cbc') {
    throw new ConfigurationError(
      `block_encryption_mode is "${check?.mode}" after setting aes-256-cbc; refusing to use this connection`,
    )
  }
}
