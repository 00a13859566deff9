import { line, type PostureCheck } from './doctor-check.js'
import { engineName, isOn, setting, type ServerFacts } from './doctor-server-facts.js'

/**
 * The server's own logs. Prepared statements keep `?` in performance_schema and in
 * error messages, but the server expands the parameters into the text it writes to
 * the general log, the slow log and (with the settings below) the binary log, so a
 * key bound to a statement lands there in clear (docs/threat-model.md, measured on MySQL 9.7).
 *
 * Rule used throughout: FAIL when the channel leaks now; WARN when it is off but
 * one switch would make it leak (a log enabled with `log_output = NONE`, a
 * statement binlog format or query events while the binary log is off).
 */

export const GENERAL_LOG = line('general_log', 'General query log off')
export const SLOW_QUERY_LOG = line('slow_query_log', 'Slow query log off')
export const DEADLOCK_LOG = line(
  'innodb_print_all_deadlocks',
  'Deadlocks not written to the error log',
)
export const BINLOG_FORMAT = line('binlog_format', 'Row-based binary log format')
export const BINLOG_QUERY_EVENTS = line(
  'binlog_query_events',
  'No statement text in the binary log',
)

/** `log_output` includes NONE: the general and slow logs write nothing (NONE wins). */
function logOutputIsNone(facts: ServerFacts): boolean {
  return (setting(facts, 'log_output') ?? 'FILE')
    .toUpperCase()
    .split(',')
    .includes('NONE')
}

function logOutput(facts: ServerFacts): string {
  return setting(facts, 'log_output') ?? 'FILE'
}

/** general_log ON: every statement is written with its parameters expanded. FAIL. */
export function generalLogCheck(facts: ServerFacts): PostureCheck {
  const check = GENERAL_LOG
  const fix =
    'SET GLOBAL general_log = OFF, and remove general_log from the server configuration.'
  if (!isOn(facts, 'general_log')) return check.pass('general_log is OFF.')
  if (logOutputIsNone(facts)) {
    return check.warn(
      'general_log is ON with log_output = NONE: nothing is written now, but any other ' +
        'log_output would write every statement with its parameters (keys) expanded.',
      fix,
    )
  }
  return check.fail(
    `general_log is ON (log_output = ${logOutput(facts)}): every statement is written ` +
      'with its parameters expanded, keys included.',
    fix,
  )
}

/**
 * Below this `long_query_time` (seconds) ordinary statements of a busy server
 * reach the slow log: treated like the general log.
 */
const SLOW_LOG_FAIL_BELOW_SECONDS = 1

/**
 * slow_query_log ON writes statements slower than `long_query_time` with their
 * parameters expanded.
 * - FAIL when `long_query_time` < 1 s or `log_queries_not_using_indexes` is ON:
 *   then ordinary key-carrying statements are written routinely.
 * - Otherwise WARN (FAIL in production mode): only slow statements are written,
 *   but a large rotation or a loaded server crosses any threshold sooner or
 *   later, and a production slow log is usually shipped to a log store.
 * - `log_output = NONE`: WARN, as for the general log.
 */
export function slowQueryLogCheck(facts: ServerFacts, production: boolean): PostureCheck {
  const check = SLOW_QUERY_LOG
  if (!isOn(facts, 'slow_query_log')) return check.pass('slow_query_log is OFF.')
  const fix =
    'SET GLOBAL slow_query_log = OFF, and remove slow_query_log from the server ' +
    'configuration (use performance_schema digests, which keep ? for prepared statements, to find slow statements).'
  if (logOutputIsNone(facts)) {
    return check.warn(
      'slow_query_log is ON with log_output = NONE: nothing is written now, but any ' +
        'other log_output would write slow statements with their parameters expanded.',
      fix,
    )
  }
  const threshold = Number(setting(facts, 'long_query_time') ?? '10')
  const withoutIndexes = isOn(facts, 'log_queries_not_using_indexes')
  const what =
    `slow_query_log is ON (log_output = ${logOutput(facts)}, long_query_time = ${threshold} s` +
    `${withoutIndexes ? ', log_queries_not_using_indexes = ON' : ''}): statements it ` +
    'writes have their parameters expanded, keys included.'
  if (threshold < SLOW_LOG_FAIL_BELOW_SECONDS || withoutIndexes) {
    return check.fail(`${what} At this setting ordinary statements are written.`, fix)
  }
  return check.warnOrFail(
    production,
    `${what} Only slow statements are written, but a large rotation or a loaded server crosses the threshold.`,
    fix,
  )
}

/**
 * binlog_format: STATEMENT or MIXED writes statements, with their values, to the
 * binary log (and to every replica's relay log). ROW writes row images, which for
 * emr-vault's tables are ciphertext. FAIL with the binary log on, WARN with it off.
 */
export function binlogFormatCheck(facts: ServerFacts): PostureCheck {
  const check = BINLOG_FORMAT
  const logBin = isOn(facts, 'log_bin')
  const format = setting(facts, 'binlog_format')?.toUpperCase()
  const state = `log_bin is ${logBin ? 'ON' : 'OFF'}`
  if (format === undefined) {
    return check.pass(`${state}; this server has no binlog_format (row-based only).`)
  }
  if (format === 'ROW') {
    return check.pass(
      `${state}, binlog_format = ROW: the binary log holds row images (ciphertext), not statements.`,
    )
  }
  const fix =
    'SET GLOBAL binlog_format = ROW, and set binlog_format = ROW in the server configuration.'
  return logBin
    ? check.fail(
        `${state}, binlog_format = ${format}: statements are written to the binary log ` +
          'with their values, keys included.',
        fix,
      )
    : check.warn(
        `${state}, binlog_format = ${format}: nothing is logged now, but enabling the ` +
          'binary log would write statements with their values.',
        fix,
      )
}

/**
 * The statement text the engine adds next to row events:
 * MySQL `binlog_rows_query_log_events` (OFF by default), MariaDB
 * `binlog_annotate_row_events` (ON by default). Either writes the expanded
 * statement into the binary log even in ROW format. FAIL with the binary log on,
 * WARN with it off (enabling the binary log later would leak).
 */
export function binlogQueryEventsCheck(facts: ServerFacts): PostureCheck {
  const name =
    facts.flavour === 'mariadb'
      ? 'binlog_annotate_row_events'
      : 'binlog_rows_query_log_events'
  const check = BINLOG_QUERY_EVENTS
  const logBin = isOn(facts, 'log_bin')
  if (!isOn(facts, name)) {
    return check.pass(`${name} is OFF: no statement text beside row events.`)
  }
  const fix = `SET GLOBAL ${name} = OFF, and set ${name} = OFF in the server configuration.`
  const what = `${name} is ON (${engineName(facts)}${facts.flavour === 'mariadb' ? "'s default" : ''})`
  return logBin
    ? check.fail(
        `${what} with log_bin ON: each row event carries the statement with its ` +
          'parameters expanded, keys included.',
        fix,
      )
    : check.warn(
        `${what}, log_bin is OFF: nothing is logged now, but enabling the binary log ` +
          'would write each statement with its parameters expanded.',
        fix,
      )
}

/**
 * InnoDB keeps the statements of the latest deadlock with their parameters
 * expanded (keys, pads, plaintext), even for prepared statements: seen in
 * `SHOW ENGINE INNODB STATUS` by PROCESS holders (the watching-accounts check),
 * and with `innodb_print_all_deadlocks = ON` written to the error log on disk for
 * every deadlock (found by the concurrency soak test). FAIL when ON.
 */
export function deadlockLogCheck(facts: ServerFacts): PostureCheck {
  const check = DEADLOCK_LOG
  if (!isOn(facts, 'innodb_print_all_deadlocks')) {
    return check.pass(
      'innodb_print_all_deadlocks is OFF (the latest deadlock is still shown, with values, to PROCESS holders by SHOW ENGINE INNODB STATUS).',
    )
  }
  return check.fail(
    'innodb_print_all_deadlocks is ON: every deadlock is written to the error log with ' +
      'its statements expanded, keys and patient data included.',
    'SET GLOBAL innodb_print_all_deadlocks = OFF, and remove it from the server configuration.',
  )
}
