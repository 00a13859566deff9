import type { Knex } from 'knex'
import {
  advanceAuditHeadSql,
  insertAuditRowsSql,
  lockAuditHeadSql,
} from '../sql/audit-chain-sql.js'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import {
  BREAK_GLASS_ACTION_PREFIX,
  type AuditHeadRow,
  type AuditLogRow,
  type AuditQuery,
  type AuditTables,
  type NewAuditLogRow,
} from './audit-log.row.js'

const HEAD_ID = 1

/**
 * A seq as a bound value. knex's types have no bigint, but it hands bindings to
 * mysql2 untouched and mysql2 binds a bigint as an integer: BIGINT UNSIGNED is
 * compared exactly, with no detour through a string or a double.
 */
function seqValue(seq: bigint): Knex.Value {
  return seq as unknown as Knex.Value
}

/**
 * Locks the chain head for the rest of the transaction and reads it, with the
 * server's clock read after the lock was granted (`SYSDATE(3)`, unlike `NOW(3)`,
 * is evaluated when the row is read, not when the statement began), so
 * `occurred_at` rises with `seq` on one primary. Undefined if the head row is missing.
 */
export async function lockAuditHead(
  trx: Knex.Transaction,
  tables: AuditTables,
): Promise<(AuditHeadRow & { now: Date }) | undefined> {
  const rows = await selectRows<AuditHeadRow & { now: Date }>(
    trx,
    lockAuditHeadSql(tables.head, HEAD_ID),
    'lock audit head',
  )
  return rows[0]
}

/** The head without locking it (verify reads it inside its snapshot). */
export async function readAuditHead(
  db: Executor,
  tables: AuditTables,
): Promise<AuditHeadRow | undefined> {
  const rows = await selectRows<AuditHeadRow>(
    db,
    db(tables.head).select('last_seq', 'last_mac', 'head_mac').where('id', HEAD_ID),
    'read audit head',
  )
  return rows[0]
}

/**
 * The rows of one append, in seq order, as one multi-row INSERT: a batch costs
 * one round trip however many acts it records.
 *
 * INSERT INTO audit_log (seq, occurred_at, …, mac) VALUES (?, ?, …, ?), (?, ?, …, ?)
 */
export async function insertAuditRows(
  trx: Knex.Transaction,
  tables: AuditTables,
  rows: readonly NewAuditLogRow[],
): Promise<void> {
  await executeWrite(trx, insertAuditRowsSql(tables.log, rows), 'append audit row')
}

/** Moves the head to the row just inserted; false if the head was not at `fromSeq`. */
export async function advanceAuditHead(
  trx: Knex.Transaction,
  tables: AuditTables,
  fromSeq: bigint,
  head: { lastSeq: bigint; lastMac: Buffer; headMac: Buffer },
): Promise<boolean> {
  const { affectedRows } = await executeWrite(
    trx,
    advanceAuditHeadSql(tables.head, HEAD_ID, fromSeq, head),
    'advance audit head',
  )
  return affectedRows === 1
}

/**
 * One page of the log in seq order: rows after `afterSeq` (from the very first
 * row, whatever its seq, when null). Keyset pagination on the primary key, so
 * each page costs the same however far into the log it is.
 */
export async function readAuditPage(
  db: Executor,
  tables: AuditTables,
  afterSeq: bigint | null,
  limit: number,
): Promise<AuditLogRow[]> {
  const query = db(tables.log).select('*').orderBy('seq').limit(limit)
  if (afterSeq !== null) query.where('seq', '>', seqValue(afterSeq))
  return selectRows<AuditLogRow>(db, query, 'read audit page')
}

/** Rows matching a report's filters, one page (no MAC check: that is verify's job). */
export async function findAuditRows(
  db: Executor,
  tables: AuditTables,
  filters: AuditQuery,
): Promise<AuditLogRow[]> {
  const isBreakGlass = (): Knex.Raw =>
    db.raw('LEFT(??, ?) = ?', [
      'action',
      BREAK_GLASS_ACTION_PREFIX.length,
      BREAK_GLASS_ACTION_PREFIX,
    ])
  const query = db(tables.log).select('*')
  if (filters.actorUserId) query.where('actor_user_id', filters.actorUserId)
  if (filters.patientId) query.where('patient_id', filters.patientId)
  if (filters.targetUserId) query.where('target_user_id', filters.targetUserId)
  if (filters.actions) query.whereIn('action', [...filters.actions])
  if (filters.outcome) query.where('outcome', filters.outcome)
  if (filters.from) query.where('occurred_at', '>=', filters.from)
  if (filters.to) query.where('occurred_at', '<', filters.to)
  const after = filters.after
  if (after && !filters.breakGlassFirst) query.where('seq', '>', seqValue(after.seq))
  if (after && filters.breakGlassFirst) {
    // Order is (break-glass first, then seq): the rest of the current group, then
    // (when the cursor is still in the break-glass group) all of the other group.
    query.where((w) => {
      if (after.breakGlass) {
        w.where((g) =>
          g.where(isBreakGlass()).andWhere('seq', '>', seqValue(after.seq)),
        ).orWhere((g) => g.whereNot(isBreakGlass()))
      } else {
        w.whereNot(isBreakGlass()).andWhere('seq', '>', seqValue(after.seq))
      }
    })
  }
  if (filters.breakGlassFirst) {
    query.orderByRaw('(LEFT(??, ?) = ?) DESC', [
      'action',
      BREAK_GLASS_ACTION_PREFIX.length,
      BREAK_GLASS_ACTION_PREFIX,
    ])
  }
  query.orderBy('seq').limit(filters.limit)
  return selectRows<AuditLogRow>(db, query, 'audit report')
}

/**
 * The detail of the patient's last successful audit row that records a chart
 * state (services/chart-tags.ts), newest first through the (patient_id, seq) index:
 *
 *   SELECT `detail` FROM `audit_log` WHERE `patient_id` = ? AND `outcome` = 'success'
 *   AND `detail` LIKE '%chart %:%' ORDER BY `seq` DESC LIMIT 1
 */
export async function findLastChartDetail(
  db: Executor,
  tables: AuditTables,
  patientId: Buffer,
): Promise<string | undefined> {
  const rows = await selectRows<{ detail: string }>(
    db,
    db(tables.log)
      .select('detail')
      .where({ patient_id: patientId, outcome: 'success' })
      .andWhere('detail', 'like', '%chart %:%')
      .orderBy('seq', 'desc')
      .limit(1),
    'find last chart state in the audit trail',
  )
  return rows[0]?.detail
}
