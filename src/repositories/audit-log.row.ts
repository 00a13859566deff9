export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number]

/**
 * Names of an audit log and its head row. The deployment uses {@link AUDIT_TABLES};
 * tests build private chains under other names (same DDL:
 * src/migrations/20261129_0002_audit_log.ts `createAuditTables`).
 */
export interface AuditTables {
  readonly log: string
  readonly head: string
}

export const AUDIT_TABLES: AuditTables = Object.freeze({
  log: 'audit_log',
  head: 'audit_chain_head',
})

/**
 * An `audit_log` row as stored. `seq` is BIGINT UNSIGNED: the pool returns it as a
 * decimal string (supportBigNumbers + bigNumberStrings) and takes a bigint.
 */
export interface AuditLogRow {
  seq: string
  occurred_at: Date
  actor_user_id: Buffer | null
  action: string
  patient_id: Buffer | null
  target_user_id: Buffer | null
  outcome: AuditOutcome
  reason: string | null
  detail: string | null
  mac: Buffer
}

/** A row to insert: the same columns, `seq` as a bigint. */
export type NewAuditLogRow = Omit<AuditLogRow, 'seq'> & { seq: bigint }

/** The `audit_chain_head` row (id = 1). */
export interface AuditHeadRow {
  last_seq: string
  last_mac: Buffer
  head_mac: Buffer
}

/** Filters of an audit report, already checked by the service. */
export interface AuditQuery {
  readonly actorUserId?: Buffer
  readonly patientId?: Buffer
  readonly targetUserId?: Buffer
  readonly actions?: readonly string[]
  readonly outcome?: AuditOutcome
  /** Inclusive lower bound on `occurred_at`. */
  readonly from?: Date
  /** Exclusive upper bound on `occurred_at`. */
  readonly to?: Date
  /** Order break-glass rows (action `break_glass.*`) before the others, each group by seq. */
  readonly breakGlassFirst: boolean
  /** Keyset cursor: the last row of the previous page. */
  readonly after?: { readonly seq: bigint; readonly breakGlass: boolean }
  readonly limit: number
}

/** Actions starting with this are break-glass rows (reported first when asked). */
export const BREAK_GLASS_ACTION_PREFIX = 'break_glass.'
