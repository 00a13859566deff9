import { isIP } from 'node:net'
import type { Knex } from 'knex'
import { line, type PostureCheck } from './doctor-check.js'

/**
 * TLS with certificate verification to a server that is not on this machine:
 * keys travel inside statements (HIPAA 164.312(e)).
 *
 * - Loopback (127.0.0.0/8, ::1, `localhost`, no host, a Unix socket): PASS, not applicable.
 * - Otherwise FAIL unless the connection config has `ssl` with
 *   `rejectUnauthorized` not false (mysql2 verifies by default; createDb sets it
 *   from EMR_VAULT_DB_SSL_CA) and the session reports a non-empty `Ssl_cipher`.
 * - WARN when knex's connection config is a function: the doctor does not call it.
 */

export const TLS = line('tls', 'TLS with certificate verification to a remote server')

/** The part of a mysql2 connection config this check reads. */
export interface TransportConfig {
  readonly host?: string | undefined
  readonly socketPath?: string | undefined
  readonly ssl?: unknown
}

export function isLoopback(config: TransportConfig): boolean {
  if (config.socketPath) return true
  const host = (config.host ?? '')
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase()
  if (host === '' || host === 'localhost') return true // '' is mysql2's default, localhost
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) {
    return /^(0{0,4}:){2,7}0{0,3}1$/.test(host) || host.startsWith('::ffff:127.')
  }
  return false
}

/** `ssl` as mysql2 reads it: an object verifies unless rejectUnauthorized is false; a string names a CA profile. */
function verifiesCertificate(ssl: unknown): boolean {
  if (typeof ssl === 'string') return ssl.length > 0
  if (typeof ssl !== 'object' || ssl === null) return false
  return (ssl as { rejectUnauthorized?: unknown }).rejectUnauthorized !== false
}

const FIX =
  'Set EMR_VAULT_DB_SSL_CA to the CA of the server certificate (createDb then requires ' +
  'and verifies TLS), or pass ssl with rejectUnauthorized: true in the connection config.'

/** Evaluates one connection config against the cipher its session reports. */
export function evaluateTransport(
  config: TransportConfig,
  sslCipher: string,
): PostureCheck {
  const check = TLS
  const where = config.socketPath ? 'a Unix socket' : `host ${config.host ?? 'localhost'}`
  if (isLoopback(config)) {
    return check.pass(
      `The server is reached over ${where} (loopback): not applicable` +
        (sslCipher ? ` (TLS in use: ${sslCipher}).` : '.'),
    )
  }
  if (config.ssl === undefined || config.ssl === null || config.ssl === false) {
    return check.fail(
      `${where} is not loopback and no TLS is configured: keys in statements cross the network in clear.`,
      FIX,
    )
  }
  if (!verifiesCertificate(config.ssl)) {
    return check.fail(
      `${where}: TLS is configured with rejectUnauthorized: false, so anyone in the ` +
        'path can present a certificate and read the statements.',
      FIX,
    )
  }
  if (!sslCipher) {
    return check.fail(
      `${where}: TLS is configured but the session reports no Ssl_cipher (not encrypted).`,
      FIX,
    )
  }
  return check.pass(`${where}: TLS (${sslCipher}) with certificate verification.`)
}

function urlConfig(url: string): TransportConfig {
  try {
    return { host: new URL(url).hostname }
  } catch {
    return { host: 'unparseable connection string' }
  }
}

export async function transportCheck(db: Knex): Promise<PostureCheck> {
  const connection = (db.client.config as Knex.Config).connection as unknown
  if (typeof connection === 'function') {
    return TLS.warn(
      "knex's connection config is a function; the doctor does not call it to read the host and ssl settings.",
      'Check by hand that a remote server is reached with ssl and rejectUnauthorized: true.',
    )
  }
  const config: TransportConfig =
    typeof connection === 'string'
      ? urlConfig(connection)
      : ((connection ?? {}) as TransportConfig)
  const [rows] = (await db.raw("SHOW SESSION STATUS LIKE 'Ssl_cipher'")) as [
    { Value: string }[],
  ]
  return evaluateTransport(config, rows[0]?.Value ?? '')
}
