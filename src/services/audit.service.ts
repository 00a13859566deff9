import type { Knex } from 'knex'
import {
  auditHeadMac,
  auditRowMac,
  isAuditGenesisHead,
  macEquals,
} from '../crypto/audit-mac.js'
import { rowIdToString } from '../db/row-id.js'
import { IntegrityError, ValidationError } from '../errors/index.js'
import {
  advanceAuditHead,
  findAuditRows,
  insertAuditRows,
  lockAuditHead,
} from '../repositories/audit-log.repository.js'
import {
  BREAK_GLASS_ACTION_PREFIX,
  type AuditLogRow,
  type AuditOutcome,
  type AuditTables,
  type NewAuditLogRow,
} from '../repositories/audit-log.row.js'
import {
  checkAction,
  checkAuditKey,
  checkDate,
  checkDetail,
  checkOptionalId,
  checkOptionalUuid,
  checkOutcome,
  checkPageSize,
  checkReason,
  checkSeq,
  checkTables,
  AUDIT_DETAIL_MAX_CHARS,
  type AuditAction,
} from './audit-checks.js'
import { takeChartTag } from './chart-tags.js'
import { requireFields, requireObject } from './require-object.js'

export { AUDIT_ACTIONS, type AuditAction } from './audit-checks.js'
export {
  AUDIT_TABLES,
  type AuditOutcome,
  type AuditTables,
} from '../repositories/audit-log.row.js'
export {
  verifyAuditChain,
  type AuditChainProblem,
  type AuditHeadState,
  type AuditVerifyOptions,
  type AuditVerifyResult,
} from './audit-verify.js'

/**
 * One audited act: who did what to which patient or user, and how it ended.
 * Never PHI or key material: ids, an action name, an outcome, the clinician's
 * reason (which the UI must tell them must not contain PHI) and a short
 * printable-ASCII `detail` such as `v2->v3`. The services build these with the
 * ids as stored (16 bytes); callers of the library see ids as UUID strings.
 */
export interface AuditEvent {
  /** The acting user; null for the system or an unidentified caller (failed login of an unknown name). */
  actorUserId: Buffer | null
  action: AuditAction
  patientId?: Buffer | null
  /** The user acted upon (grantee, revoked user, disabled user, recovered user). */
  targetUserId?: Buffer | null
  outcome: AuditOutcome
  /** Free text, at most 500 characters, no control characters but tab and newline. */
  reason?: string | null
  /** Printable ASCII, at most 200 characters. */
  detail?: string | null
}

/**
 * The act's detail with the chart tag at its end, where parseChartTag reads it.
 * The tag always fits: a detail too long for both is cut (ending in `...`), since
 * the act's own words are informative and the tag is what verification needs.
 */
export function withChartTag(detail: string | null | undefined, tag: string): string {
  if (!detail) return tag
  const room = AUDIT_DETAIL_MAX_CHARS - tag.length - 1
  const kept = detail.length <= room ? detail : `${detail.slice(0, room - 3)}...`
  return `${kept} ${tag}`
}

/**
 * Appends one event to the audit chain and returns its seq.
 *
 * Call it inside the transaction of the act it records, so that the act and its
 * audit row commit together or not at all, and call it LAST, after every other
 * statement of that transaction (several appends in a row are fine):
 * - the head row lock (`SELECT … FOR UPDATE` on `audit_chain_head`) is the
 *   serialisation point of every audited act in the deployment; it is held until
 *   COMMIT, so taking it last keeps that time to an INSERT, an UPDATE and the commit;
 * - it gives a single lock order (patient, grant and user locks first, the head
 *   last), so two audited transactions cannot deadlock on it: whoever holds the
 *   head asks for no other lock afterwards.
 *
 * Before extending the chain it checks the head's MAC and refuses (IntegrityError)
 * a head it cannot authenticate: otherwise someone who cut rows off and moved
 * the head back could make this function MAC new rows onto the shortened chain.
 * This fails closed: with a tampered head, audited acts fail until an operator
 * has investigated (verifyAuditChain says where the chain breaks).
 *
 * @param trx - the caller's transaction (not a plain knex instance)
 * @param auditKey - the deployment's 32-byte audit key (ConfigurationError otherwise)
 * @param event - the act; checked before anything is written (ValidationError)
 * @param tables - the audit tables; the deployment's by default
 * @returns the new row's seq, as a decimal string (as {@link AuditEntry} has it)
 */
export async function appendAudit(
  trx: Knex.Transaction,
  auditKey: Buffer,
  event: AuditEvent,
  tables?: AuditTables,
): Promise<string> {
  const [seq] = await appendAudits(trx, auditKey, [event], tables)
  return seq!
}

/**
 * Appends several events to the audit chain at once, in order, and returns
 * their seqs: one head lock, one multi-row INSERT and one head UPDATE for the
 * lot, where an append each would cost three statements each (a search that
 * returns five patients records six acts). Every event is checked before
 * anything is written; the rules of {@link appendAudit} apply (last in the
 * transaction, the head's MAC checked first). The rows share one `occurred_at`:
 * they are one moment of one transaction.
 */
export async function appendAudits(
  trx: Knex.Transaction,
  auditKey: Buffer,
  events: readonly AuditEvent[],
  tables?: AuditTables,
): Promise<string[]> {
  checkAuditKey(auditKey)
  if (typeof trx !== 'function' || trx.isTransaction !== true) {
    throw new ValidationError(
      'trx',
      "must be the caller's transaction: the audit row commits with the act it records",
    )
  }
  const names = checkTables(tables)
  if (!Array.isArray(events) || events.length === 0) {
    throw new ValidationError('events', 'must be a non-empty array of audit events')
  }
  const checked = events.map(checkEvent)
  // The chart state this transaction moved for the patient, if any (chart-tags.ts).
  for (const fields of checked) {
    const tag = takeChartTag(trx, fields.patientId)
    if (tag) fields.detail = checkDetail(withChartTag(fields.detail, tag))
  }

  const head = await lockAuditHead(trx, names)
  if (!head) throw new IntegrityError(`the audit chain head (${names.head}) is missing`)
  const lastSeq = BigInt(head.last_seq)
  const authentic = isAuditGenesisHead(lastSeq, head.last_mac, head.head_mac)
    ? true
    : macEquals(head.head_mac, auditHeadMac(auditKey, lastSeq, head.last_mac))
  if (!authentic) {
    throw new IntegrityError(
      `the audit chain head (${names.head}) failed its integrity check (tampered, or a different audit key); ` +
        'refusing to extend the chain: run verifyAuditChain',
    )
  }

  let seq = lastSeq
  let mac = head.last_mac
  const rows: NewAuditLogRow[] = checked.map((fields) => {
    seq += 1n
    mac = auditRowMac(auditKey, mac, { ...fields, seq, occurredAt: head.now })
    return {
      seq,
      occurred_at: head.now,
      actor_user_id: fields.actorUserId,
      action: fields.action,
      patient_id: fields.patientId,
      target_user_id: fields.targetUserId,
      outcome: fields.outcome,
      reason: fields.reason,
      detail: fields.detail,
      mac,
    }
  })
  await insertAuditRows(trx, names, rows)
  const advanced = await advanceAuditHead(trx, names, lastSeq, {
    lastSeq: seq,
    lastMac: mac,
    headMac: auditHeadMac(auditKey, seq, mac),
  })
  // Cannot happen while we hold the lock; if it does, the transaction must not commit.
  if (!advanced) throw new IntegrityError('the audit chain head moved while locked')
  return rows.map((row) => row.seq.toString())
}

/** An event's fields, checked. */
function checkEvent(event: AuditEvent) {
  const e = requireObject(event, 'event')
  return {
    actorUserId: checkOptionalId(e['actorUserId'], 'actorUserId'),
    action: checkAction(e['action'], 'action'),
    patientId: checkOptionalId(e['patientId'], 'patientId'),
    targetUserId: checkOptionalId(e['targetUserId'], 'targetUserId'),
    outcome: checkOutcome(e['outcome'], 'outcome'),
    reason: checkReason(e['reason']),
    detail: checkDetail(e['detail']),
  }
}

/**
 * An audit row as a report shows it (no MAC: reports do not verify; verifyAuditChain
 * does). Plain data: `JSON.stringify` keeps every field (`occurredAt` as ISO 8601).
 */
export interface AuditEntry {
  /**
   * Position in the chain, as a decimal string: the column is BIGINT UNSIGNED, and
   * a string keeps every value exact (a number would not above 2^53, e.g. a seq
   * someone wrote into the table) and survives JSON, which a bigint does not.
   */
  readonly seq: string
  readonly occurredAt: Date
  /** Ids are UUID strings (lower case), as everywhere else in the API. */
  readonly actorUserId: string | null
  readonly action: AuditAction
  readonly patientId: string | null
  readonly targetUserId: string | null
  readonly outcome: AuditOutcome
  readonly reason: string | null
  readonly detail: string | null
}

/** Every filter is optional; ids are UUID strings (a ValidationError otherwise, before any read). */
export interface AuditReportFilters {
  readonly actorUserId?: string
  readonly patientId?: string
  readonly targetUserId?: string
  /** One action or any of several. */
  readonly action?: AuditAction | readonly AuditAction[]
  readonly outcome?: AuditOutcome
  /** Inclusive. */
  readonly from?: Date
  /** Exclusive. */
  readonly to?: Date
  /** Break-glass rows (`break_glass.*`) first, then the rest; each group in seq order. */
  readonly breakGlassFirst?: boolean
  /** Page size: 1 to 10,000; 1,000 by default. */
  readonly limit?: number
  /** The last entry of the previous page (keyset pagination, same filters). */
  readonly after?: Pick<AuditEntry, 'seq' | 'action'>
  /** The audit tables; the deployment's by default. */
  readonly tables?: AuditTables
}

const REPORT_FILTERS = [
  'actorUserId',
  'patientId',
  'targetUserId',
  'action',
  'outcome',
  'from',
  'to',
  'breakGlassFirst',
  'limit',
  'after',
  'tables',
] as const satisfies readonly (keyof AuditReportFilters)[]

const ENTRY_FIELDS = [
  'seq',
  'occurredAt',
  'actorUserId',
  'action',
  'patientId',
  'targetUserId',
  'outcome',
  'reason',
  'detail',
] as const satisfies readonly (keyof AuditEntry)[]

/**
 * Audit rows matching the filters, one page, in seq order (break-glass rows first
 * when `breakGlassFirst`). For HIPAA access reports: who opened a patient, what a
 * user did, every break-glass access and its reason.
 */
export async function auditReport(
  db: Knex,
  filters: AuditReportFilters = {},
): Promise<AuditEntry[]> {
  const f = requireFields(filters, 'filters', REPORT_FILTERS, 'is not a report filter')
  const names = checkTables(f['tables'] as AuditTables | undefined)
  const actions =
    f['action'] === undefined
      ? undefined
      : Array.isArray(f['action'])
        ? (f['action'] as unknown[]).map((a) => checkAction(a, 'action'))
        : [checkAction(f['action'], 'action')]
  if (actions?.length === 0)
    throw new ValidationError('action', 'must not be an empty list')
  // An entry of the previous page as it came back: any of its fields may be there.
  const after =
    f['after'] === undefined
      ? undefined
      : requireFields(f['after'], 'after', ENTRY_FIELDS)
  const breakGlassFirst = f['breakGlassFirst'] === true
  const actorUserId = checkOptionalUuid(f['actorUserId'], 'actorUserId')
  const patientId = checkOptionalUuid(f['patientId'], 'patientId')
  const targetUserId = checkOptionalUuid(f['targetUserId'], 'targetUserId')
  const from = checkDate(f['from'], 'from')
  const to = checkDate(f['to'], 'to')
  const rows = await findAuditRows(db, names, {
    ...(actorUserId ? { actorUserId } : {}),
    ...(patientId ? { patientId } : {}),
    ...(targetUserId ? { targetUserId } : {}),
    ...(actions ? { actions } : {}),
    ...(f['outcome'] === undefined
      ? {}
      : { outcome: checkOutcome(f['outcome'], 'outcome') }),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    breakGlassFirst,
    ...(after
      ? {
          after: {
            seq: checkSeq(after['seq'], 'after.seq'),
            breakGlass:
              typeof after['action'] === 'string' &&
              after['action'].startsWith(BREAK_GLASS_ACTION_PREFIX),
          },
        }
      : {}),
    limit: checkPageSize(f['limit'], 'limit'),
  })
  return rows.map(toEntry)
}

function toEntry(row: AuditLogRow): AuditEntry {
  const id = (value: Buffer | null) => (value === null ? null : rowIdToString(value))
  return {
    seq: BigInt(row.seq).toString(),
    occurredAt: row.occurred_at,
    actorUserId: id(row.actor_user_id),
    action: row.action as AuditAction,
    patientId: id(row.patient_id),
    targetUserId: id(row.target_user_id),
    outcome: row.outcome,
    reason: row.reason,
    detail: row.detail,
  }
}
