/**
 * The keyed MAC chain of the audit log (docs/concepts.md, "The audit log").
 *
 * Row MAC:
 * ```
 * mac_n = HMAC-SHA256(auditKey,
 *           "emr-vault/audit/v1"                 18 bytes of ASCII, no length prefix
 *         ‖ mac_{n-1}                            32 bytes (row 1: AUDIT_GENESIS_MAC)
 *         ‖ uint64be(seq)
 *         ‖ uint64be(occurred_at, ms since the Unix epoch, UTC)
 *         ‖ opt(actor_user_id)                   opt(x) = 0x00, or 0x01 ‖ x (16 bytes)
 *         ‖ str(action)                          str(s) = uint16be(len) ‖ UTF-8 bytes
 *         ‖ opt(patient_id)
 *         ‖ opt(target_user_id)
 *         ‖ str(outcome)
 *         ‖ optStr(reason)                       optStr(s) = 0x00, or 0x01 ‖ str(s)
 *         ‖ optStr(detail))
 * ```
 * Every column except `mac` is covered, in table order; every variable field is
 * length-prefixed and every nullable one has a presence byte, so no two rows
 * encode alike ("ab"‖"c" ≠ "a"‖"bc", NULL ≠ ""). Chaining on the previous MAC
 * makes an edited, deleted, inserted or reordered row break the chain from there on.
 *
 * Head MAC (the `audit_chain_head` row):
 * `HMAC-SHA256(auditKey, "emr-vault/audit-head/v1" ‖ uint64be(last_seq) ‖ last_mac)`.
 * Its label differs from the row label before either ends, so a row MAC can never
 * stand in for a head MAC or the reverse.
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { abytes } from './bytes.js'
import { describeType, isWellFormed } from './checks.js'
import { u16Prefixed } from './encoding.js'
import { HMAC_SHA256_BYTES, hmacSha256 } from './hmac.js'

/** The audit key: 32 random bytes held by the deployment's configuration. */
export const AUDIT_KEY_BYTES = 32
/** Length of a row MAC and of the head MAC. */
export const AUDIT_MAC_BYTES = HMAC_SHA256_BYTES
/** Length of the user and patient ids a row names (UUID, BINARY(16)). */
export const AUDIT_ID_BYTES = 16

const ROW_LABEL = Buffer.from('emr-vault/audit/v1', 'ascii')
const HEAD_LABEL = Buffer.from('emr-vault/audit-head/v1', 'ascii')
const UINT64_MAX = (1n << 64n) - 1n

/** The columns of an `audit_log` row that its MAC covers (all but `mac`). */
export interface AuditMacFields {
  readonly seq: bigint
  readonly occurredAt: Date
  readonly actorUserId: Buffer | null
  readonly action: string
  readonly patientId: Buffer | null
  readonly targetUserId: Buffer | null
  readonly outcome: string
  readonly reason: string | null
  readonly detail: string | null
}

/**
 * The "previous MAC" of row 1 and the `last_mac` of the genesis head: 32 zero
 * bytes (src/migrations/20261129_0002_audit_log.ts seeds the same value).
 *
 * @returns a new Buffer each call (callers cannot alter a shared constant)
 */
export function auditGenesisMac(): Buffer {
  return Buffer.alloc(AUDIT_MAC_BYTES)
}

/**
 * Whether a head is the unkeyed genesis head the migration seeds: `last_seq = 0`,
 * `last_mac` and `head_mac` both 32 zero bytes. The migration has no key, so
 * this is the only head accepted without a valid head MAC.
 */
export function isAuditGenesisHead(
  lastSeq: bigint,
  lastMac: Buffer,
  headMac: Buffer,
): boolean {
  const zero = auditGenesisMac()
  return lastSeq === 0n && macEquals(lastMac, zero) && macEquals(headMac, zero)
}

/**
 * The MAC of one audit row, chained on the previous row's MAC.
 *
 * @param auditKey - the 32-byte audit key
 * @param prevMac - the previous row's MAC (row 1: {@link auditGenesisMac})
 * @param row - every column but `mac`
 * @returns the 32-byte MAC
 * @throws TypeError on a wrong argument type or a string with a lone surrogate
 * @throws RangeError on a wrong key, MAC or id length, or an out-of-range seq or time
 */
export function auditRowMac(
  auditKey: Buffer,
  prevMac: Buffer,
  row: AuditMacFields,
): Buffer {
  abytes(auditKey, 'auditKey', AUDIT_KEY_BYTES)
  abytes(prevMac, 'prevMac', AUDIT_MAC_BYTES)
  return hmacSha256(
    auditKey,
    ROW_LABEL,
    prevMac,
    uint64be(row.seq, 'seq'),
    uint64be(epochMillis(row.occurredAt), 'occurredAt'),
    optId(row.actorUserId, 'actorUserId'),
    str(row.action, 'action'),
    optId(row.patientId, 'patientId'),
    optId(row.targetUserId, 'targetUserId'),
    str(row.outcome, 'outcome'),
    optStr(row.reason, 'reason'),
    optStr(row.detail, 'detail'),
  )
}

/**
 * The MAC of the chain head: binds the last seq to the last row's MAC.
 *
 * @param auditKey - the 32-byte audit key
 * @param lastSeq - seq of the last row (0 for an empty chain)
 * @param lastMac - MAC of that row
 * @returns the 32-byte head MAC
 * @throws TypeError, RangeError on wrong arguments
 */
export function auditHeadMac(auditKey: Buffer, lastSeq: bigint, lastMac: Buffer): Buffer {
  abytes(auditKey, 'auditKey', AUDIT_KEY_BYTES)
  abytes(lastMac, 'lastMac', AUDIT_MAC_BYTES)
  return hmacSha256(auditKey, HEAD_LABEL, uint64be(lastSeq, 'lastSeq'), lastMac)
}

/** Constant-time comparison of two MACs; false (not an exception) on a length mismatch. */
export function macEquals(a: Buffer, b: Buffer): boolean {
  abytes(a, 'a')
  abytes(b, 'b')
  return a.length === b.length && timingSafeEqual(a, b)
}

function uint64be(value: bigint, name: string): Buffer {
  if (typeof value !== 'bigint') {
    throw new TypeError(`"${name}" must be a bigint, got ${describeType(value)}`)
  }
  if (value < 0n || value > UINT64_MAX) {
    throw new RangeError(`"${name}" must be from 0 to 2^64 - 1`)
  }
  const out = Buffer.alloc(8)
  out.writeBigUInt64BE(value)
  return out
}

function epochMillis(value: Date): bigint {
  if (!(value instanceof Date)) {
    throw new TypeError(`"occurredAt" must be a Date, got ${describeType(value)}`)
  }
  const ms = value.getTime()
  if (!Number.isInteger(ms) || ms < 0) {
    throw new RangeError('"occurredAt" must be a valid date at or after 1970-01-01')
  }
  return BigInt(ms)
}

function optId(value: Buffer | null, name: string): Buffer {
  if (value === null) return Buffer.of(0)
  abytes(value, name, AUDIT_ID_BYTES)
  return Buffer.concat([Buffer.of(1), value])
}

function str(value: string, name: string): Buffer {
  if (typeof value !== 'string') {
    throw new TypeError(`"${name}" must be a string, got ${describeType(value)}`)
  }
  // Buffer.from would turn every lone surrogate into U+FFFD: two different
  // strings would then encode, and MAC, alike.
  if (!isWellFormed(value)) {
    throw new TypeError(`"${name}" must be well-formed Unicode (it has a lone surrogate)`)
  }
  return u16Prefixed(Buffer.from(value, 'utf8'))
}

function optStr(value: string | null, name: string): Buffer {
  if (value === null) return Buffer.of(0)
  return Buffer.concat([Buffer.of(1), str(value, name)])
}

const EMERGENCY_KEY_LABEL = Buffer.from('emr-vault/emergency-public-key/v1', 'ascii')

/**
 * MAC of the emergency public key under the deployment's audit key: it pins the
 * key stored in the database to this deployment (break-glass.service.ts).
 *
 * @throws RangeError if a key is not 32 bytes
 */
export function emergencyKeyMac(auditKey: Buffer, publicKey: Buffer): Buffer {
  abytes(auditKey, 'auditKey', 32)
  abytes(publicKey, 'publicKey', 32)
  return hmacSha256(auditKey, EMERGENCY_KEY_LABEL, publicKey)
}
