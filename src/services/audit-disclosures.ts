import type { Knex } from 'knex'
import { ValidationError } from '../errors/index.js'
import type { AuditTables } from '../repositories/audit-log.row.js'
import type { AuditAction } from './audit-checks.js'
import { auditReport, type AuditEntry } from './audit.service.js'
import { requireFields } from './require-object.js'

/**
 * An accounting of a patient's disclosures (HIPAA §164.528 asks a covered
 * entity to give one on request): every time someone opened the patient's data,
 * with the access it was opened under, from the patient's audit rows alone.
 */

/** Acts that open a patient's data (a search's read rows are `patient.read`). */
const OPENING: ReadonlySet<AuditAction> = new Set([
  'patient.read',
  'record.read',
  'record.list',
  'row.read',
  'row.list',
  'row.open',
  'chart.read',
])

/** What an opening was done under, as the audit rows before it say. */
export type DisclosureBasis =
  | { readonly kind: 'creator'; readonly since: Date }
  | { readonly kind: 'grant'; readonly grantedBy: string | null; readonly since: Date }
  | {
      readonly kind: 'recovery'
      readonly restoredBy: string | null
      readonly since: Date
    }
  | { readonly kind: 'break-glass'; readonly reason: string | null; readonly since: Date }
  /** No row before it gives this user access: granted before the audit log began, or rows missing. */
  | { readonly kind: 'unknown' }

export interface Disclosure {
  readonly seq: string
  readonly at: Date
  /** Who opened the data (UUID string); null for an act with no user. */
  readonly userId: string | null
  readonly action: AuditAction
  /** The audit row's detail (no PHI), e.g. the declared table and row. */
  readonly detail: string | null
  readonly basis: DisclosureBasis
}

export interface DisclosureOptions {
  /** Inclusive; the whole history by default. */
  readonly from?: Date
  /** Exclusive. */
  readonly to?: Date
  /** The audit tables; the deployment's by default. */
  readonly tables?: AuditTables
}

const OPTIONS = ['from', 'to', 'tables'] as const

/** The `until …` a break-glass row's detail records (break-glass.service.ts). */
function breakGlassUntil(detail: string | null): Date | null {
  const match = /^until (\S+)$/.exec(detail ?? '')
  const until = match ? new Date(match[1]!) : null
  return until && !Number.isNaN(until.getTime()) ? until : null
}

/**
 * The patient's disclosures in seq order, page by page (memory: one page and
 * the access of each user of the patient). Every row of the patient is read
 * from the first, since an access granted before `from` explains an opening
 * after it; only successful openings in [from, to) are yielded.
 *
 * It trusts the audit rows it reads: verify the chain (verifyAuditChain) for a
 * report that must stand up. A grant revoked ends that user's access; a
 * break-glass access lasts until the time its row records.
 */
export async function* disclosuresOf(
  db: Knex,
  patientId: string,
  options: DisclosureOptions = {},
): AsyncGenerator<Disclosure> {
  const o = requireFields(options, 'options', OPTIONS, 'is not a disclosure option')
  for (const field of ['from', 'to'] as const) {
    const v = o[field]
    if (v !== undefined && (!(v instanceof Date) || Number.isNaN(v.getTime())))
      throw new ValidationError(field, 'must be a valid Date')
  }
  const from = o['from'] as Date | undefined
  const to = o['to'] as Date | undefined
  const access = new Map<string, DisclosureBasis>()
  const breakGlass = new Map<
    string,
    { reason: string | null; since: Date; until: Date | null }
  >()
  let after: Pick<AuditEntry, 'seq' | 'action'> | undefined
  for (;;) {
    const page = await auditReport(db, {
      patientId,
      ...(o['tables'] ? { tables: o['tables'] as AuditTables } : {}),
      ...(after ? { after } : {}),
      limit: 1000,
    })
    for (const e of page) {
      if (e.outcome !== 'success') continue
      const actor = e.actorUserId ?? ''
      const target = e.targetUserId ?? ''
      switch (e.action) {
        case 'patient.create':
          access.set(actor, { kind: 'creator', since: e.occurredAt })
          break
        case 'grant':
          access.set(target, {
            kind: 'grant',
            grantedBy: e.actorUserId,
            since: e.occurredAt,
          })
          break
        case 'recovery.restore':
          access.set(target, {
            kind: 'recovery',
            restoredBy: e.actorUserId,
            since: e.occurredAt,
          })
          break
        case 'revoke':
          access.delete(target)
          break
        case 'break_glass.open':
          breakGlass.set(actor, {
            reason: e.reason,
            since: e.occurredAt,
            until: breakGlassUntil(e.detail),
          })
          break
        default:
          if (!OPENING.has(e.action)) break
          if ((from && e.occurredAt < from) || (to && e.occurredAt >= to)) break
          yield {
            seq: e.seq,
            at: e.occurredAt,
            userId: e.actorUserId,
            action: e.action,
            detail: e.detail,
            basis: basisAt(actor, e.occurredAt),
          }
      }
    }
    if (page.length < 1000) return
    const last = page.at(-1)!
    after = { seq: last.seq, action: last.action }
  }

  function basisAt(user: string, at: Date): DisclosureBasis {
    const bg = breakGlass.get(user)
    if (bg && (bg.until === null || at < bg.until))
      return { kind: 'break-glass', reason: bg.reason, since: bg.since }
    return access.get(user) ?? { kind: 'unknown' }
  }
}
