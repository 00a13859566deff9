import type { Knex } from 'knex'
import { parseServerVersion, type ServerFlavour } from '../db/index.js'

/**
 * The server settings the posture checks read, fetched once. GLOBAL values, not
 * the session's: they are what every new connection starts with, and a pooled
 * connection keeps the session value it was opened with, so a session read would
 * miss a `SET GLOBAL` made since.
 */
export interface ServerFacts {
  /** `VERSION()` as reported. */
  readonly version: string
  readonly flavour: ServerFlavour
  /** Settings by name; a setting the engine does not have is absent. */
  readonly variables: ReadonlyMap<string, string>
}

const VARIABLES = [
  'general_log',
  'log_output',
  'slow_query_log',
  'long_query_time',
  'log_queries_not_using_indexes',
  'log_bin',
  'binlog_format',
  // MySQL
  'binlog_rows_query_log_events',
  'sql_require_primary_key',
  // MariaDB
  'binlog_annotate_row_events',
  'innodb_force_primary_key',
  'innodb_print_all_deadlocks',
] as const

export type DoctorVariable = (typeof VARIABLES)[number]

export async function readServerFacts(db: Knex): Promise<ServerFacts> {
  const [versionRows] = (await db.raw('SELECT VERSION() AS version')) as [
    { version: string }[],
  ]
  const version = versionRows[0]?.version ?? ''
  const [rows] = (await db.raw(
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${VARIABLES.map(() => '?').join(', ')})`,
    [...VARIABLES],
  )) as [{ Variable_name: string; Value: string }[]]
  return {
    version,
    flavour: parseServerVersion(version).flavour,
    variables: new Map(rows.map((r) => [r.Variable_name.toLowerCase(), r.Value])),
  }
}

/** The setting's value as the server shows it, or undefined if this engine has none. */
export function setting(facts: ServerFacts, name: DoctorVariable): string | undefined {
  return facts.variables.get(name)
}

/** Boolean settings read back as ON/OFF (or 1/0). */
export function isOn(facts: ServerFacts, name: DoctorVariable): boolean {
  const value = setting(facts, name)?.toUpperCase()
  return value === 'ON' || value === '1'
}

/** The engine's name for texts. */
export function engineName(facts: ServerFacts): string {
  return facts.flavour === 'mariadb' ? 'MariaDB' : 'MySQL'
}
