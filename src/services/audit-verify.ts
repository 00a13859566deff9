import type { Knex } from 'knex'
import {
  auditGenesisMac,
  auditHeadMac,
  auditRowMac,
  isAuditGenesisHead,
  macEquals,
} from '../crypto/audit-mac.js'
import { ValidationError } from '../errors/index.js'
import { readAuditHead, readAuditPage } from '../repositories/audit-log.repository.js'
import type {
  AuditHeadRow,
  AuditLogRow,
  AuditTables,
} from '../repositories/audit-log.row.js'
import { checkAuditKey, checkPageSize, checkSeq, checkTables } from './audit-checks.js'
import { requireFields } from './require-object.js'

/**
 * - `mac`: a row's MAC does not match its content and its predecessor's MAC:
 *   the row was edited, forged, inserted by renumbering, or moved (reordered).
 * - `gap`: the seqs are not 1, 2, 3, …: a row was deleted or its seq changed.
 * - `head`: the head row is missing, its own MAC fails, or it does not name the
 *   last row (a row cut off the end, or the head moved forward or back).
 * - `anchor`: the chain disagrees with a head recorded outside the database.
 */
export type AuditChainProblem = 'mac' | 'gap' | 'head' | 'anchor'

/**
 * What to record outside the database after a good verify (see `anchor`): plain
 * JSON, so it can go into a file, a ticket or a signed e-mail as it is and be
 * passed back as `anchor` after `JSON.parse`.
 */
export interface AuditHeadState {
  /** The last row's seq, as a decimal string like every seq the library hands out. */
  readonly lastSeq: string
  /** The last row's MAC: 64 lower-case hex digits (an anchor may use either case). */
  readonly lastMac: string
}

export interface AuditVerifyOptions {
  /** Rows read per statement (1 to 10,000; 1,000 by default). Memory stays one page. */
  readonly pageSize?: number
  /** Called after each page with the number of rows checked so far. */
  readonly onProgress?: (checked: number) => void
  /**
   * A head recorded earlier outside the database (the `head` of an earlier good
   * verify, kept in a ticket, a WORM bucket, a signed e-mail): the chain must
   * still contain that row with that MAC. This closes the gap described on
   * {@link verifyAuditChain}.
   */
  readonly anchor?: AuditHeadState
  /**
   * Check only the rows after `anchor` (required): the anchor row is checked
   * against its recorded MAC and against its predecessor, and each later row
   * against the one before it, so the time is that of the rows added since the
   * anchor was recorded. What it does not see: a change made since then to a
   * row before the anchor (only a full run reads those); run one now and then.
   */
  readonly resume?: boolean
  /** The audit tables; the deployment's by default. */
  readonly tables?: AuditTables
}

export type AuditVerifyResult =
  | {
      readonly ok: true
      /** Rows checked: every row of the chain, or (resumed) those after the anchor. */
      readonly rows: number
      /** Resumed: the anchor's seq, the last row not checked again. */
      readonly resumedAfter?: string
      /** Decimal string, like every seq the library hands out. */
      readonly lastSeq: string
      /** The verified head: record it outside the database to anchor later runs. */
      readonly head: AuditHeadState
    }
  | {
      readonly ok: false
      /** Rows checked and found good before the first bad one. */
      readonly rows: number
      /** The first seq at which the chain is wrong (see {@link AuditChainProblem}). */
      readonly firstBadSeq: string
      readonly problem: AuditChainProblem
      /** Fixed text and seqs only. */
      readonly message: string
      /** For `gap`: the seq that should have come next. */
      readonly expectedSeq?: string
      /** The head as stored (unverified), or null if it is missing. */
      readonly head: AuditHeadState | null
    }

const VERIFY_OPTIONS = [
  'pageSize',
  'tables',
  'onProgress',
  'anchor',
  'resume',
] as const satisfies readonly (keyof AuditVerifyOptions)[]

/**
 * Checks the whole audit chain with the audit key and reports the first row
 * where it breaks. Reads one page at a time inside one REPEATABLE READ
 * transaction, so memory does not grow with the log and appends committed while
 * it runs neither disturb it nor make it report a false break (it checks the
 * snapshot taken at its first read, head included).
 *
 * Detects, for someone who can write the tables but does not hold the key:
 * - an edited column of any row (`mac` at that row; an edited `seq` shows as a
 *   `gap` at the row after it, or as `mac`);
 * - a deleted row (`gap` at the row after the hole; the last row: `head`);
 * - an inserted row: at a free seq its MAC cannot be right (`mac`); between two
 *   rows it needs renumbering, which breaks the MAC of the row moved (`mac`);
 * - swapped or reordered rows (`mac` at the first row out of place);
 * - a head that was edited, forged, moved forward or back (`head`);
 * - a wrong audit key (`mac` at seq 1; an empty chain has nothing keyed to check).
 *
 * Cannot detect, without an anchor: cutting rows off the END of the log and
 * restoring a genuine older head row (copied from a backup or an earlier read of
 * the table) that names the new last row. The shortened chain is then
 * self-consistent: every MAC the attacker needs was made by the key. Deleting
 * every row and restoring the genesis head is the extreme case. Mitigation:
 * record `head` from each good run outside the database and pass it as `anchor`
 * next time; replicate the log to a store the database's writers cannot reach.
 * Also out of scope: an attacker who holds the audit key (they can rebuild any
 * chain), and the truth of what a caller chose to log.
 */
export async function verifyAuditChain(
  db: Knex,
  auditKey: Buffer,
  opts: AuditVerifyOptions = {},
): Promise<AuditVerifyResult> {
  checkAuditKey(auditKey)
  const o = requireFields(opts, 'opts', VERIFY_OPTIONS, 'is not a verify option')
  const pageSize = checkPageSize(o['pageSize'], 'pageSize')
  const tables = checkTables(o['tables'] as AuditTables | undefined)
  const onProgress = o['onProgress']
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw new ValidationError('onProgress', 'must be a function')
  const anchor = o['anchor'] === undefined ? undefined : checkAnchor(o['anchor'])
  const resume = o['resume']
  if (resume !== undefined && typeof resume !== 'boolean')
    throw new ValidationError('resume', 'must be a boolean')
  if (resume && !anchor)
    throw new ValidationError('resume', 'needs an anchor to resume from')
  return db.transaction(
    (trx) =>
      verifyInSnapshot(trx, auditKey, {
        tables,
        pageSize,
        onProgress: onProgress as ((checked: number) => void) | undefined,
        anchor,
        resume: resume === true,
      }),
    { isolationLevel: 'repeatable read' },
  )
}

/** An anchor as the verifier works with it: the seq as a number to compare, the MAC as bytes. */
interface Anchor {
  readonly lastSeq: bigint
  readonly lastMac: Buffer
}

const MAC_HEX = /^[0-9a-fA-F]{64}$/

function checkAnchor(value: unknown): Anchor {
  const a = requireFields(value, 'anchor', ['lastSeq', 'lastMac'])
  const lastMac = a['lastMac']
  if (typeof lastMac !== 'string' || !MAC_HEX.test(lastMac))
    throw new ValidationError('anchor.lastMac', 'must be 64 hex digits (a 32-byte MAC)')
  return {
    lastSeq: checkSeq(a['lastSeq'], 'anchor.lastSeq'),
    lastMac: Buffer.from(lastMac, 'hex'),
  }
}

function headState(lastSeq: bigint, lastMac: Buffer): AuditHeadState {
  return { lastSeq: lastSeq.toString(), lastMac: lastMac.toString('hex') }
}

type Failure = Extract<AuditVerifyResult, { ok: false }>

async function verifyInSnapshot(
  trx: Knex.Transaction,
  auditKey: Buffer,
  o: {
    tables: AuditTables
    pageSize: number
    onProgress: ((checked: number) => void) | undefined
    anchor: Anchor | undefined
    resume: boolean
  },
): Promise<AuditVerifyResult> {
  // The first read of the transaction fixes the snapshot every page is read from.
  const headRow = await readAuditHead(trx, o.tables)
  const head = headRow
    ? { lastSeq: BigInt(headRow.last_seq), lastMac: headRow.last_mac }
    : null
  const storedHead = head ? headState(head.lastSeq, head.lastMac) : null
  let rows = 0
  const fail = (
    problem: Failure['problem'],
    firstBadSeq: bigint,
    message: string,
    expectedSeq?: bigint,
  ): Failure => ({
    ok: false,
    rows,
    firstBadSeq: firstBadSeq.toString(),
    problem,
    message,
    ...(expectedSeq === undefined ? {} : { expectedSeq: expectedSeq.toString() }),
    head: storedHead,
  })

  let prevMac = auditGenesisMac()
  let expected = 1n
  let after: bigint | null = null
  if (o.resume && o.anchor && o.anchor.lastSeq > 0n) {
    const start = await anchorRow(trx, auditKey, o.tables, o.anchor)
    if (start !== 'ok') return fail('anchor', o.anchor.lastSeq, start)
    prevMac = o.anchor.lastMac
    expected = o.anchor.lastSeq + 1n
    after = o.anchor.lastSeq
  }
  for (;;) {
    const page = await readAuditPage(trx, o.tables, after, o.pageSize)
    for (const row of page) {
      const seq = BigInt(row.seq)
      if (seq !== expected) {
        return fail('gap', seq, `expected seq ${expected}, found ${seq}`, expected)
      }
      if (!rowMacMatches(auditKey, prevMac, seq, row)) {
        return fail('mac', seq, `row ${seq} does not match its MAC`)
      }
      if (o.anchor && seq === o.anchor.lastSeq && !macEquals(row.mac, o.anchor.lastMac)) {
        return fail('anchor', seq, `row ${seq} is not the row the anchor recorded`)
      }
      prevMac = row.mac
      expected = seq + 1n
      rows++
    }
    const last = page.at(-1)
    if (last) {
      after = BigInt(last.seq)
      o.onProgress?.(rows)
    }
    if (page.length < o.pageSize) break
  }

  const lastSeq = expected - 1n
  if (!headRow || !head)
    return fail('head', lastSeq + 1n, 'the chain head row is missing')
  if (head.lastSeq !== lastSeq) {
    const first = (head.lastSeq < lastSeq ? head.lastSeq : lastSeq) + 1n
    return fail(
      'head',
      first,
      `the head names seq ${head.lastSeq} but the last row is seq ${lastSeq}`,
    )
  }
  if (!macEquals(head.lastMac, prevMac)) {
    return fail('head', lastSeq, `the head does not name row ${lastSeq}'s MAC`)
  }
  if (!headMacMatches(auditKey, head.lastSeq, headRow)) {
    return fail('head', lastSeq, 'the head fails its MAC')
  }
  if (o.anchor && o.anchor.lastSeq > lastSeq) {
    return fail(
      'anchor',
      lastSeq + 1n,
      `the chain ends at seq ${lastSeq} but the anchor recorded seq ${o.anchor.lastSeq}`,
    )
  }
  return {
    ok: true,
    rows,
    lastSeq: lastSeq.toString(),
    head: headState(head.lastSeq, head.lastMac),
    ...(o.resume && o.anchor ? { resumedAfter: o.anchor.lastSeq.toString() } : {}),
  }
}

/**
 * Where a resumed run starts: the anchor's row must be there with the MAC the
 * anchor recorded, and that MAC must still be the one its content and its
 * predecessor's MAC give (an edit of the anchor row itself is caught too).
 * Returns 'ok' or the failure's message.
 */
async function anchorRow(
  trx: Knex.Transaction,
  auditKey: Buffer,
  tables: AuditTables,
  anchor: Anchor,
): Promise<'ok' | string> {
  const seq = anchor.lastSeq
  const rows = await readAuditPage(trx, tables, seq > 1n ? seq - 2n : null, 2)
  const row = rows.find((r) => BigInt(r.seq) === seq)
  if (!row) return `the chain has no row ${seq}, where the anchor was recorded`
  if (!macEquals(row.mac, anchor.lastMac))
    return `row ${seq} is not the row the anchor recorded`
  const prev =
    seq === 1n ? auditGenesisMac() : rows.find((r) => BigInt(r.seq) === seq - 1n)?.mac
  if (!prev || !rowMacMatches(auditKey, prev, seq, row))
    return `row ${seq}, where the anchor was recorded, does not match its MAC`
  return 'ok'
}

/** A row that cannot even be encoded (e.g. a date before 1970) does not match. */
function rowMacMatches(
  auditKey: Buffer,
  prevMac: Buffer,
  seq: bigint,
  row: AuditLogRow,
): boolean {
  let expected: Buffer
  try {
    expected = auditRowMac(auditKey, prevMac, {
      seq,
      occurredAt: row.occurred_at,
      actorUserId: row.actor_user_id,
      action: row.action,
      patientId: row.patient_id,
      targetUserId: row.target_user_id,
      outcome: row.outcome,
      reason: row.reason,
      detail: row.detail,
    })
  } catch {
    return false
  }
  return macEquals(row.mac, expected)
}

function headMacMatches(auditKey: Buffer, lastSeq: bigint, row: AuditHeadRow): boolean {
  if (isAuditGenesisHead(lastSeq, row.last_mac, row.head_mac)) return true
  return macEquals(row.head_mac, auditHeadMac(auditKey, lastSeq, row.last_mac))
}
