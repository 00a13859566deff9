/**
 * Blind indexes: a keyed, deterministic tag of a normalised value, stored beside
 * its envelope so that equality can be found without the patient key (the
 * construction of CipherSweet's blind indexes and the AWS Database Encryption
 * SDK's beacons: HMAC of the value, truncated for coarse indexes). Computed in
 * Node; only the tag reaches SQL, as a parameter, never the key.
 * @module
 */
import { abytes } from './bytes.js'
import { hkdfSha256 } from './hkdf.js'
import { hmacSha256 } from './hmac.js'

export const SEARCH_KEY_BYTES = 32
/** An exact index keeps 128 bits: a collision among 2^32 values has odds ~2^-64. */
export const EXACT_INDEX_BYTES = 16
/** A coarse index keeps at most 32 bits (an INT UNSIGNED column). */
export const MAX_COARSE_BITS = 32

const SALT = Buffer.from('emr-vault/search-index/v1', 'utf8')

/** What an index key is bound to: changing any part gives an unrelated key. */
export interface IndexKeyContext {
  readonly table: string
  readonly index: string
  readonly kind: 'exact' | 'coarse'
  /** Bits kept (coarse); 128 for exact. */
  readonly bits: number
  /** Each field with its normaliser names, in order. */
  readonly fields: readonly {
    readonly column: string
    readonly steps: readonly string[]
  }[]
}

/** Length-prefixed parts, so that ("ab", "c") and ("a", "bc") differ. */
function framed(parts: readonly string[]): Buffer {
  const chunks: Buffer[] = []
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8')
    const length = Buffer.alloc(4)
    length.writeUInt32BE(bytes.length)
    chunks.push(length, bytes)
  }
  return Buffer.concat(chunks)
}

/**
 * The index's own key: HKDF-SHA256 (RFC 5869) of the organisation search key,
 * info = the table, index, kind, bits and each field's column and normalisers.
 * One key per index, so tags of two indexes over the same value do not match.
 */
export function deriveIndexKey(searchKey: Buffer, context: IndexKeyContext): Buffer {
  abytes(searchKey, 'searchKey', SEARCH_KEY_BYTES)
  const info = framed([
    context.table,
    context.index,
    context.kind,
    String(context.bits),
    ...context.fields.map((f) => `${f.column}:${f.steps.join('|')}`),
  ])
  return hkdfSha256(searchKey, SALT, info, SEARCH_KEY_BYTES)
}

/** HMAC-SHA256 of the normalised field values (framed), first 16 bytes. */
export function exactIndexValue(indexKey: Buffer, values: readonly string[]): Buffer {
  return hmacSha256(indexKey, framed(values)).subarray(0, EXACT_INDEX_BYTES)
}

/** The top `bits` bits of HMAC-SHA256 of the normalised values, as an integer. */
export function coarseIndexValue(
  indexKey: Buffer,
  values: readonly string[],
  bits: number,
): number {
  if (!Number.isInteger(bits) || bits < 1 || bits > MAX_COARSE_BITS) {
    throw new RangeError(`"bits" must be an integer from 1 to ${MAX_COARSE_BITS}`)
  }
  const top = hmacSha256(indexKey, framed(values)).readUInt32BE(0)
  return bits === 32 ? top : top >>> (32 - bits)
}
