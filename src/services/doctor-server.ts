import { assertSupportedServer } from '../db/index.js'
import { ConfigurationError } from '../errors/index.js'
import { line, type PostureCheck } from './doctor-check.js'
import { engineName, isOn, type ServerFacts } from './doctor-server-facts.js'

export const SERVER_VERSION = line('server_version', 'Server engine and version')
export const PRIMARY_KEY = line(
  'primary_key_required',
  'Primary keys required by the server',
)

/** Engine and version: FAIL where AES_ENCRYPT takes no IV (assertSupportedServer). */
export function serverVersionCheck(facts: ServerFacts): PostureCheck {
  const check = SERVER_VERSION
  try {
    const info = assertSupportedServer(facts.version)
    return check.pass(
      `${engineName(facts)} ${info.major}.${info.minor}.${info.patch}: AES_ENCRYPT takes an IV (aes-256-cbc).`,
    )
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err
    return check.fail(err.message, 'Use MySQL >= 8.0 or MariaDB >= 11.2.')
  }
}

/**
 * Primary keys required for new tables. Not a leak: every emr-vault table has one,
 * but row-based replication and InnoDB Cluster / Galera expect the setting, and it
 * keeps a table added by hand from going without. WARN when off, never FAIL.
 * MySQL: `sql_require_primary_key`; MariaDB: `innodb_force_primary_key`.
 */
export function primaryKeyCheck(facts: ServerFacts): PostureCheck {
  const name =
    facts.flavour === 'mariadb' ? 'innodb_force_primary_key' : 'sql_require_primary_key'
  const check = PRIMARY_KEY
  return isOn(facts, name)
    ? check.pass(`${name} is ON: tables without a primary key are refused.`)
    : check.warn(
        `${name} is OFF. The emr-vault schema has primary keys anyway; row-based ` +
          'replication and clusters expect the server to require them.',
        facts.flavour === 'mariadb'
          ? `SET GLOBAL ${name} = ON, and set it in the server configuration.`
          : `SET PERSIST ${name} = ON.`,
      )
}
