/**
 * The chart state of a patient: a keyed summary of which rows of the patient hold
 * envelopes, which of their fields are set, and which envelope each field holds,
 * so that a row deleted, a row added from elsewhere, a field set to NULL or a
 * value rolled back to an older envelope no longer matches it (docs/integrity.md).
 *
 * Key (a subkey of the audit key, which the database never holds; the same
 * reasoning as user-key-certificate.ts):
 * ```
 * stateKey = HKDF-SHA256(ikm = auditKey, salt = "", info = "emr-vault/chart-state/v1", L = 32)
 * ```
 * Each row with at least one non-NULL envelope column contributes three elements,
 * with `row = patientId (16) ‖ len8 ‖ table ‖ rowId (16)` and its non-NULL
 * envelope columns in name order:
 * ```
 * rows   ← HMAC(stateKey, "emr-vault/chart/rows/v1"   ‖ row)
 * fields ← HMAC(stateKey, "emr-vault/chart/fields/v1" ‖ row ‖ (len8 ‖ column)*)
 * values ← HMAC(stateKey, "emr-vault/chart/values/v1" ‖ row ‖ (len8 ‖ column ‖ iv)*)
 * ```
 * and the summary of a set of rows is their count and the XOR of each kind of
 * element: the MSet-XOR-Hash of Clarke et al., "Incremental Multiset Hash
 * Functions and Their Application to Memory Integrity Checking" (ASIACRYPT 2003),
 * over elements that are distinct by construction (one per table and row id).
 * XOR makes it incremental: a write removes the row's old elements and adds its
 * new ones without reading the rest of the chart. Without the key nobody can
 * compute an element, so no edit of the rows can be balanced by one of the summary.
 *
 * The IV stands for the envelope: it is 16 random bytes made per value, and the
 * envelope's tag covers it, so a value sealed again (an update, a rotation) has a
 * new one, and an older envelope put back brings its old one. The three kinds tell
 * the findings apart: rows (deleted, added), fields (set to NULL), values (another
 * envelope in a field).
 *
 * The stored state is MAC'd with a write counter that grows with every change:
 * ```
 * mac = HMAC(stateKey, "emr-vault/chart-state/v1" ‖ patientId ‖ int64be(count)
 *            ‖ rows ‖ fields ‖ values ‖ uint64be(writeSeq))
 * ```
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { abytes } from './bytes.js'
import { u8Prefixed } from './encoding.js'
import { hkdfSha256 } from './hkdf.js'
import { HMAC_SHA256_BYTES, hmacSha256 } from './hmac.js'

const STATE_KEY_INFO = Buffer.from('emr-vault/chart-state/v1', 'ascii')
const ROWS_LABEL = Buffer.from('emr-vault/chart/rows/v1', 'ascii')
const FIELDS_LABEL = Buffer.from('emr-vault/chart/fields/v1', 'ascii')
const VALUES_LABEL = Buffer.from('emr-vault/chart/values/v1', 'ascii')
const STATE_LABEL = Buffer.from('emr-vault/chart-state/v1', 'ascii')
const ID_BYTES = 16
const DIGEST_BYTES = HMAC_SHA256_BYTES

/**
 * The chart-state key derived from the audit key.
 *
 * @param auditKey - the deployment's 32-byte audit key
 * @returns 32 bytes (secret: wipe when done)
 */
export function chartStateKey(auditKey: Buffer): Buffer {
  abytes(auditKey, 'auditKey', 32)
  return hkdfSha256(auditKey, Buffer.alloc(0), STATE_KEY_INFO, 32)
}

/** A set of rows as count and three XOR digests (all zero for no rows). */
export interface ChartSummary {
  readonly count: number
  readonly rows: Buffer
  readonly fields: Buffer
  readonly values: Buffer
}

/** One stored row as the summary sees it: the IV of each envelope column, or null. */
export interface ChartRow {
  readonly table: string
  readonly rowId: Buffer
  readonly ivs: Readonly<Record<string, Buffer | null>>
}

/** The summary of no rows. */
export function emptySummary(): ChartSummary {
  const zero = () => Buffer.alloc(DIGEST_BYTES)
  return { count: 0, rows: zero(), fields: zero(), values: zero() }
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(DIGEST_BYTES)
  for (let i = 0; i < DIGEST_BYTES; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/**
 * The summary of one row: empty when no envelope column is set (such a row holds
 * nothing sealed, and a table converted in place starts that way).
 */
export function rowSummary(
  stateKey: Buffer,
  patientId: Buffer,
  row: ChartRow,
): ChartSummary {
  abytes(patientId, 'patientId', ID_BYTES)
  abytes(row.rowId, 'rowId', ID_BYTES)
  const set = Object.keys(row.ivs)
    .filter((c) => row.ivs[c] !== null && row.ivs[c] !== undefined)
    .sort()
  if (set.length === 0) return emptySummary()
  const head = Buffer.concat([
    patientId,
    u8Prefixed(Buffer.from(row.table, 'ascii')),
    row.rowId,
  ])
  const names = set.map((c) => u8Prefixed(Buffer.from(c, 'ascii')))
  // A stored value too short to hold an IV yields fewer bytes: it still differs.
  const withIvs = set.flatMap((c, i) => [names[i]!, row.ivs[c]!])
  return {
    count: 1,
    rows: hmacSha256(stateKey, ROWS_LABEL, head),
    fields: hmacSha256(stateKey, FIELDS_LABEL, head, ...names),
    values: hmacSha256(stateKey, VALUES_LABEL, head, ...withIvs),
  }
}

/** The summary of the union of two disjoint sets of rows. */
export function addSummaries(a: ChartSummary, b: ChartSummary): ChartSummary {
  return {
    count: a.count + b.count,
    rows: xor(a.rows, b.rows),
    fields: xor(a.fields, b.fields),
    values: xor(a.values, b.values),
  }
}

/** The summary of `a` without the rows of `b` (a subset of it). */
export function subtractSummaries(a: ChartSummary, b: ChartSummary): ChartSummary {
  return { ...addSummaries(a, b), count: a.count - b.count }
}

/** The summary of many rows. */
export function summaryOf(
  stateKey: Buffer,
  patientId: Buffer,
  rows: Iterable<ChartRow>,
): ChartSummary {
  let sum = emptySummary()
  for (const row of rows) sum = addSummaries(sum, rowSummary(stateKey, patientId, row))
  return sum
}

function int64be(n: number): Buffer {
  const out = Buffer.alloc(8)
  out.writeBigInt64BE(BigInt(n))
  return out
}

/** The MAC of a stored state (see the module comment). */
export function chartStateMac(
  stateKey: Buffer,
  patientId: Buffer,
  summary: ChartSummary,
  writeSeq: number,
): Buffer {
  abytes(patientId, 'patientId', ID_BYTES)
  const seq = Buffer.alloc(8)
  seq.writeBigUInt64BE(BigInt(writeSeq))
  return hmacSha256(
    stateKey,
    STATE_LABEL,
    patientId,
    int64be(summary.count),
    summary.rows,
    summary.fields,
    summary.values,
    seq,
  )
}

/** What differs between the summary a state records and the rows stored now. */
export type ChartFindingKind =
  /** Fewer rows hold envelopes: a row deleted, or every encrypted field of one set to NULL. */
  | 'row_missing'
  /** More rows hold envelopes: a row inserted, or moved here from another patient. */
  | 'row_added'
  /** As many rows, not the same ones. */
  | 'row_replaced'
  /** The same rows, with a field set to NULL (or a NULL field given a value). */
  | 'field_nulled'
  /** The same fields, one holding another envelope: an older value put back, or another. */
  | 'value_replaced'

/** The findings of `actual` against `recorded`; none when they are equal. */
export function compareSummaries(
  recorded: ChartSummary,
  actual: ChartSummary,
): ChartFindingKind[] {
  if (actual.count < recorded.count) return ['row_missing']
  if (actual.count > recorded.count) return ['row_added']
  if (!timingSafeEqual(actual.rows, recorded.rows)) return ['row_replaced']
  if (!timingSafeEqual(actual.fields, recorded.fields)) return ['field_nulled']
  if (!timingSafeEqual(actual.values, recorded.values)) return ['value_replaced']
  return []
}
