import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import {
  createAuditTables,
  dropAuditTables,
} from '../../src/migrations/20261129_0002_audit_log.js'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import type {
  AuditHeadRow,
  AuditLogRow,
  AuditTables,
} from '../../src/repositories/audit-log.row.js'
import {
  AUDIT_ACTIONS,
  appendAudit,
  type AuditEvent,
} from '../../src/services/audit.service.js'

/**
 * Private audit chains for tests.
 *
 * Why not the deployment's `audit_log`: the test database is shared by every
 * suite of the run, and the services append to `audit_log` (with the run's
 * TEST_AUDIT_KEY) whenever they act. A tamper test that edited, deleted or
 * truncated rows there would break other suites' appends (appendAudit refuses a
 * head it cannot authenticate) and could not assert exact seqs while others
 * append. So each chain test creates its own pair of tables with the migration's
 * own DDL (createAuditTables, under a random name), runs on it alone, and drops
 * it. The repository and service take the names through `AuditTables`.
 */
export async function createPrivateAuditTables(
  db: Knex,
  label: string,
): Promise<AuditTables> {
  // Index and CHECK names derive from the table names and must fit 64 characters.
  if (!/^[a-z0-9]{1,16}$/.test(label)) throw new Error(`bad label ${label}`)
  const suffix = `${label}_${randomBytes(4).toString('hex')}`
  const tables = { log: `audit_log_${suffix}`, head: `audit_head_${suffix}` }
  await createAuditTables(db, tables)
  return tables
}

export async function dropPrivateAuditTables(
  db: Knex,
  tables: AuditTables,
): Promise<void> {
  await dropAuditTables(db, tables)
}

/** A copy of a chain (rows and head) in a new private pair, to tamper with. */
export async function clonePrivateAuditTables(
  db: Knex,
  source: AuditTables,
  label: string,
): Promise<AuditTables> {
  const copy = await createPrivateAuditTables(db, label)
  await db.raw('INSERT INTO ?? SELECT * FROM ??', [copy.log, source.log])
  await db(copy.head).del()
  await db.raw('INSERT INTO ?? SELECT * FROM ??', [copy.head, source.head])
  return copy
}

/**
 * Ids the generated events name (fixed per run): UUIDv7 like the services' ids,
 * so a report can be filtered by them as UUID strings.
 */
export const USERS = [newRowId(), newRowId(), newRowId()] as const
export const PATIENTS = [newRowId(), newRowId(), newRowId(), newRowId()] as const

/** The UUID string of a stored id, as reports give it and filters take it. */
export const uuid = (id: Buffer): string => rowIdToString(id)

/**
 * The i-th event (0-based) of a generated chain: every action in turn, each
 * outcome, NULL and non-NULL in every nullable column, and reasons with a
 * newline, non-ASCII and trailing spaces (stored verbatim, MACed verbatim).
 */
export function eventFor(i: number): AuditEvent {
  // Every tenth event a break-glass one, however long the list of actions grows:
  // the report's break-glass-first order needs several in the first 50.
  const action =
    i % 10 === 5 ? 'break_glass.open' : AUDIT_ACTIONS[i % AUDIT_ACTIONS.length]!
  const reason = action.startsWith('break_glass.')
    ? 'unconscious patient in ED, no registered clinician on shift'
    : i % 6 === 0
      ? `night cover\nrequest #${i} — ünïcödé 🚑 `
      : null
  return {
    actorUserId: i % 7 === 3 ? null : USERS[i % USERS.length]!,
    action,
    patientId: i % 2 === 0 ? PATIENTS[i % PATIENTS.length]! : null,
    targetUserId: i % 3 === 0 ? USERS[(i + 1) % USERS.length]! : null,
    outcome: (['success', 'denied', 'failure'] as const)[i % 3]!,
    reason,
    detail: i % 4 === 0 ? `v${i}->v${i + 1}` : null,
  }
}

/** Appends `count` generated events, each in its own transaction; returns their seqs. */
export async function appendEvents(
  db: Knex,
  key: Buffer,
  tables: AuditTables,
  count: number,
  first = 0,
): Promise<string[]> {
  const seqs: string[] = []
  for (let i = first; i < first + count; i++)
    seqs.push(await db.transaction((trx) => appendAudit(trx, key, eventFor(i), tables)))
  return seqs
}

/** Every row of a chain, in seq order (plain knex: what an attacker's client sees). */
export async function allRows(db: Knex, tables: AuditTables): Promise<AuditLogRow[]> {
  return db(tables.log).select('*').orderBy('seq')
}

export async function headRow(db: Knex, tables: AuditTables): Promise<AuditHeadRow> {
  const [row] = await db(tables.head).select('last_seq', 'last_mac', 'head_mac')
  return row
}
