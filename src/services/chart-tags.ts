import { timingSafeEqual } from 'node:crypto'
import { rowIdToString } from '../db/row-id.js'

/**
 * The chart state a transaction moved, carried to the audit row of the same act:
 * ` chart <writeSeq>:<first 16 bytes of the state MAC, hex>` at the end of its
 * `detail`. The audit chain's MAC covers the detail, so the last audited state of
 * each patient is known to whoever holds the audit key, and a chart put back
 * together with its state from a backup is caught by `audit verify --patient`
 * (docs/integrity.md). Kept by transaction object, so a transaction retried after
 * a deadlock starts with none.
 */

const pending = new WeakMap<object, Map<string, string>>()

/** 16 bytes of the MAC: a forgery must still guess 2^128 values. */
const MAC_PREFIX_BYTES = 16
const TAG = /(?:^| )chart (\d{1,20}):([0-9a-f]{32})$/

export function noteChartState(
  trx: object,
  patientId: Buffer,
  writeSeq: number,
  mac: Buffer,
): void {
  const byPatient = pending.get(trx) ?? new Map<string, string>()
  byPatient.set(
    rowIdToString(patientId),
    `chart ${writeSeq}:${mac.subarray(0, MAC_PREFIX_BYTES).toString('hex')}`,
  )
  pending.set(trx, byPatient)
}

/** The tag for the audit row of `patientId` in this transaction, taken once. */
export function takeChartTag(
  trx: object,
  patientId: Buffer | null | undefined,
): string | undefined {
  if (!patientId) return undefined
  const byPatient = pending.get(trx)
  const key = rowIdToString(patientId)
  const tag = byPatient?.get(key)
  byPatient?.delete(key)
  return tag
}

/** The state an audit row's detail records, if any. */
export function parseChartTag(
  detail: string | null,
): { writeSeq: number; macPrefix: Buffer } | undefined {
  const m = detail === null ? null : TAG.exec(detail)
  if (!m) return undefined
  return { writeSeq: Number(m[1]), macPrefix: Buffer.from(m[2]!, 'hex') }
}

/** Whether `mac` is the one a tag names. */
export function tagNamesMac(macPrefix: Buffer, mac: Buffer): boolean {
  return (
    macPrefix.length === MAC_PREFIX_BYTES &&
    timingSafeEqual(macPrefix, mac.subarray(0, MAC_PREFIX_BYTES))
  )
}
