import type { Knex } from 'knex'
import { line, type PostureCheck } from './doctor-check.js'
import { isAccessDenied } from './doctor-grants.js'

const ER_NO_SUCH_TABLE = 1146

/**
 * Audit plugins are handed every statement by the server, with prepared-statement
 * parameters expanded (docs/threat-model.md), and the usual ones write it to a file.
 *
 * - FAIL: a plugin known to write statement text: MySQL Enterprise / Percona
 *   `audit_log` (its filters live in tables the doctor does not interpret),
 *   MariaDB `sql_error_log` (writes failing statements), MariaDB `server_audit`
 *   while it logs query events (`server_audit_logging = ON` and
 *   `server_audit_events` empty, which means all, or naming a QUERY class), and a
 *   MySQL component whose URN names an audit log.
 * - WARN: `server_audit` loaded but not logging queries (one SET GLOBAL away),
 *   and any other active AUDIT plugin: it receives the statements; whether it
 *   records them is up to it.
 * - Ignored, because they record no statement text: the ones in {@link NO_TEXT}.
 */

/**
 * Active AUDIT-type plugins that keep no statement text, by their documented
 * purpose (only mysqlx_cache_cleaner was seen here, active on the local MySQL 9.7).
 */
const NO_TEXT = new Set([
  'mysqlx_cache_cleaner', // MySQL X Plugin housekeeping; active even with --mysqlx=OFF
  'connection_control', // counts failed logins
  'query_response_time_audit', // MariaDB/Percona timing histogram
])

const WRITES_TEXT = new Set(['audit_log', 'sql_error_log', 'audit_log_filter'])

interface ServerAuditSettings {
  readonly logging: boolean
  readonly events: readonly string[]
}

async function activeAuditPlugins(db: Knex): Promise<string[]> {
  const [rows] = (await db.raw(
    "SELECT PLUGIN_NAME AS name FROM information_schema.PLUGINS WHERE PLUGIN_TYPE = 'AUDIT' AND PLUGIN_STATUS = 'ACTIVE'",
  )) as [{ name: string }[]]
  return rows.map((r) => r.name.toLowerCase())
}

/**
 * MySQL components (mysql.component) whose URN names an audit log, e.g.
 * Percona's component_audit_log_filter. Undefined when this account may not read
 * the table; none on MariaDB, which has no such table.
 */
async function auditComponents(db: Knex): Promise<string[] | undefined> {
  try {
    const [rows] = (await db.raw('SELECT component_urn AS urn FROM mysql.component')) as [
      { urn: string }[],
    ]
    return rows.map((r) => r.urn).filter((urn) => /audit_log/i.test(urn))
  } catch (err) {
    if (isAccessDenied(err)) return undefined
    if ((err as { errno?: unknown }).errno === ER_NO_SUCH_TABLE) return []
    throw err
  }
}

async function serverAuditSettings(db: Knex): Promise<ServerAuditSettings> {
  const [rows] = (await db.raw(
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('server_audit_logging', 'server_audit_events')",
  )) as [{ Variable_name: string; Value: string }[]]
  const value = (name: string) =>
    rows.find((r) => r.Variable_name.toLowerCase() === name)?.Value ?? ''
  return {
    logging: value('server_audit_logging').toUpperCase() === 'ON',
    events: value('server_audit_events')
      .split(',')
      .map((e) => e.trim().toUpperCase())
      .filter(Boolean),
  }
}

function logsQueries(settings: ServerAuditSettings): boolean {
  return (
    settings.logging &&
    (settings.events.length === 0 || settings.events.some((e) => e.startsWith('QUERY')))
  )
}

export const AUDIT_PLUGINS = line('audit_plugins', 'No audit plugin recording statements')

export async function auditPluginsCheck(db: Knex): Promise<PostureCheck> {
  const check = AUDIT_PLUGINS
  const plugins = (await activeAuditPlugins(db)).filter((p) => !NO_TEXT.has(p))
  const components = await auditComponents(db)
  const failing: string[] = plugins.filter((p) => WRITES_TEXT.has(p))
  const warning: string[] = plugins.filter(
    (p) => !WRITES_TEXT.has(p) && p !== 'server_audit',
  )
  if (plugins.includes('server_audit')) {
    const settings = await serverAuditSettings(db)
    ;(logsQueries(settings) ? failing : warning).push('server_audit')
  }
  failing.push(...(components ?? []).map((urn) => `component ${urn}`))
  const unread = components === undefined ? ' (MySQL components not readable here)' : ''
  const fix =
    'Uninstall the plugin, or configure it to record no statement text (server_audit: ' +
    'server_audit_events without QUERY classes); keys bound to statements reach it expanded.'
  if (failing.length > 0) {
    return check.fail(
      `Recording statement text, with parameters expanded: ${failing.join(', ')}.` +
        (warning.length > 0 ? ` Also loaded: ${warning.join(', ')}.` : ''),
      fix,
    )
  }
  if (warning.length > 0) {
    return check.warn(
      `Loaded and handed every statement with parameters expanded: ${warning.join(', ')}; ` +
        `the doctor cannot tell whether they record it.${unread}`,
      fix,
    )
  }
  return check.pass(`No audit plugin that records statements is active.${unread}`)
}
