import { createHash } from 'node:crypto'
import { aes256CbcEncrypt } from '../crypto/aes-cbc.js'
import { ConfigurationError, VaultError } from '../errors/index.js'

/**
 * The check every envelope expression carries (envelope-sql.ts): AES_ENCRYPT of
 * a fixed, public test vector must give the AES-256-CBC answer computed here in
 * Node, or the expression evaluates a scalar subquery of two rows and the
 * statement fails (ER_SUBQUERY_NO_1_ROW), so that no value is sealed, opened or
 * resealed under any other `block_encryption_mode`, whatever pool runs it.
 *
 * Why in the statement and not per connection (SET once, remember the
 * connection): `createVault({ db })` takes any knex, and a raw
 * `knex({ client: 'mysql2' })` runs in the server's default aes-128-ecb
 * (measured on MySQL 9.7 and MariaDB 11.8); a remembered connection cannot see a
 * later `SET SESSION block_encryption_mode` by the caller's code, nor one made by
 * a trigger inside the library's own statement. Measured on MySQL 9.7: a
 * BEFORE UPDATE trigger that sets aes-128-ecb makes rows 2..n of one multi-row
 * UPDATE ECB, and `@@session.block_encryption_mode` read in the same statement
 * still says aes-256-cbc (the server reads a variable once per statement, while
 * AES_ENCRYPT reads the mode per call); MariaDB 11.8 keeps the statement's
 * mode but leaves the session in ECB for the next one. A known answer computed by
 * the AES call's own mode, per value, catches all of these and costs no round
 * trip: one more AES block per value, in the server.
 *
 * Why refuse and not set the mode for the caller: a pool that does not set the
 * mode does not set the rest of createDb()'s session either (strict sql_mode, UTC,
 * MariaDB's snapshot isolation off); the refusal names the fix.
 *
 * The vector's key is not a secret (it protects nothing); it is bound all the
 * same, as every key is. The plaintext is `LEFT(dep, 0)`, the empty string taken
 * from the value being sealed or opened, so the check is evaluated with that
 * value and not folded into a constant once per statement.
 */

/** The expression whose evaluation fails the statement; also how its error is recognised. */
export const MODE_REFUSAL_SQL = '(SELECT 0x00 UNION ALL SELECT 0x01)'

const CHECK_KEY = createHash('sha256').update('emr-vault mode check key').digest()
const CHECK_IV = createHash('sha256')
  .update('emr-vault mode check iv')
  .digest()
  .subarray(0, 16)
const CHECK_ANSWER = aes256CbcEncrypt(CHECK_KEY, CHECK_IV, Buffer.alloc(0))

/** MySQL and MariaDB: "Subquery returns more than 1 row". */
const ER_SUBQUERY_NO_1_ROW = 1242

/**
 * `expr`, evaluated only when AES in this connection's current mode is
 * AES-256-CBC; `dep` is an expression the check is tied to (never NULL where
 * the check runs).
 *
 * @example
 * CASE WHEN AES_ENCRYPT(LEFT(<dep>, 0), ?, ?) = ? THEN <expr>
 *      ELSE (SELECT 0x00 UNION ALL SELECT 0x01) END
 * -- bindings: check key, check IV, expected ciphertext, then those of <expr>
 */
export function modeChecked(
  dep: string,
  expr: string,
): { sql: string; bindings: Buffer[] } {
  return {
    sql: `CASE WHEN AES_ENCRYPT(LEFT(${dep}, 0), ?, ?) = ? THEN ${expr} ELSE ${MODE_REFUSAL_SQL} END`,
    bindings: [Buffer.from(CHECK_KEY), Buffer.from(CHECK_IV), Buffer.from(CHECK_ANSWER)],
  }
}

/** Whether a driver error is this check refusing the statement `sql`. */
export function isModeRefusal(err: unknown, sql: string): boolean {
  return (
    !(err instanceof VaultError) &&
    (err as { errno?: unknown } | null)?.errno === ER_SUBQUERY_NO_1_ROW &&
    sql.includes(MODE_REFUSAL_SQL)
  )
}

const REFUSED = 'refused: block_encryption_mode is'

/**
 * The typed error for a refused statement. ConfigurationError and not
 * IntegrityError: nothing stored failed a check, the connection's settings are
 * wrong, and the fix is the pool's configuration. `mode` is the server's name
 * of the connection's current mode (read after the refusal), or undefined.
 */
export function modeRefusalError(
  operation: string,
  mode: string | undefined,
): ConfigurationError {
  const named =
    mode !== undefined && /^aes-\d{3}-[a-z0-9]{2,8}$/.test(mode) ? mode : 'another mode'
  return new ConfigurationError(
    `${operation} ${REFUSED} ${named} on this connection, not aes-256-cbc: make the knex ` +
      "instance with createDb() (or run SET SESSION block_encryption_mode = 'aes-256-cbc' in " +
      "its pool's afterCreate), and never change the mode on its connections",
  )
}

/** Whether `err` is the refusal of {@link modeRefusalError}. */
export function isModeRefusalError(err: unknown): err is ConfigurationError {
  return err instanceof ConfigurationError && err.message.includes(` ${REFUSED} `)
}
