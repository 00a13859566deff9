import { ValidationError } from '../errors/index.js'
import type { CompiledStatement } from './prepared.js'

/**
 * The three statements every audited act ends with (lock the head, insert the
 * rows, advance the head), written out rather than built by knex: knex's
 * builder and compiler took 40–50 µs of Node CPU per statement for these shapes
 * in a serial run of tools/bench/act-cpu.ts (2026-12-03), about 140 µs per act;
 * a template is under a microsecond. The statements are knex's, clause for
 * clause (the INSERT names its columns in table order where knex sorted them),
 * and mysql2 reuses the server-side prepared statement by its text either way.
 */

/** Audit table names: the same rule as the services' checkTables (mixed case allowed). */
const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

function table(name: string): string {
  if (!TABLE.test(name)) {
    throw new ValidationError(
      'table',
      `must be a table name (letters, digits, _), got "${name}"`,
    )
  }
  return `\`${name}\``
}

/** The columns of one audit row, in the order the INSERT binds them. */
export const AUDIT_ROW_COLUMNS = [
  'seq',
  'occurred_at',
  'actor_user_id',
  'action',
  'patient_id',
  'target_user_id',
  'outcome',
  'reason',
  'detail',
  'mac',
] as const

export type AuditRowValues = Readonly<Record<(typeof AUDIT_ROW_COLUMNS)[number], unknown>>

/**
 * SELECT `last_seq`, `last_mac`, `head_mac`, SYSDATE(3) AS `now`
 * FROM `audit_chain_head` WHERE `id` = ? FOR UPDATE
 */
export function lockAuditHeadSql(head: string, headId: number): CompiledStatement {
  return {
    sql:
      'SELECT `last_seq`, `last_mac`, `head_mac`, SYSDATE(3) AS `now` ' +
      `FROM ${table(head)} WHERE \`id\` = ? FOR UPDATE`,
    bindings: [headId],
  }
}

/**
 * INSERT INTO `audit_log` (`seq`, `occurred_at`, …, `mac`) VALUES (?, ?, …, ?), (?, ?, …, ?)
 *
 * One row of placeholders per row, the values in {@link AUDIT_ROW_COLUMNS} order.
 */
export function insertAuditRowsSql(
  log: string,
  rows: readonly AuditRowValues[],
): CompiledStatement {
  if (rows.length === 0) throw new ValidationError('rows', 'must not be empty')
  const placeholders = `(${AUDIT_ROW_COLUMNS.map(() => '?').join(', ')})`
  return {
    sql:
      `INSERT INTO ${table(log)} (${AUDIT_ROW_COLUMNS.map((c) => `\`${c}\``).join(', ')}) ` +
      `VALUES ${rows.map(() => placeholders).join(', ')}`,
    bindings: rows.flatMap((row) => AUDIT_ROW_COLUMNS.map((c) => row[c])),
  }
}

/**
 * UPDATE `audit_chain_head` SET `last_seq` = ?, `last_mac` = ?, `head_mac` = ?
 * WHERE `id` = ? AND `last_seq` = ?
 */
export function advanceAuditHeadSql(
  head: string,
  headId: number,
  fromSeq: unknown,
  to: { readonly lastSeq: unknown; readonly lastMac: Buffer; readonly headMac: Buffer },
): CompiledStatement {
  return {
    sql:
      `UPDATE ${table(head)} SET \`last_seq\` = ?, \`last_mac\` = ?, \`head_mac\` = ? ` +
      'WHERE `id` = ? AND `last_seq` = ?',
    bindings: [to.lastSeq, to.lastMac, to.headMac, headId, fromSeq],
  }
}
