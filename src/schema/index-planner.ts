import { ValidationError } from '../errors/index.js'

/**
 * The bit budget of a coarse index, checked when the table is declared. A
 * coarse index value is shared by the values that collide on it; how many is
 * what protects them. The rule follows the AWS Database Encryption SDK's guidance
 * on beacon length ("Choosing a beacon length": at least 2 and at most √N
 * distinct values per beacon) and CipherSweet's planner, which reasons the same
 * way about coincidences:
 *
 * - with D distinct values and b bits, D / 2^b values share each index value;
 *   fewer than 2 and an index value stands for one value: it identifies it;
 * - more than √D and a lookup is barely narrower than reading everything;
 * - with R rows expected, R / 2^b candidates come back per lookup, each opened
 *   and checked: more than √R and the index does not help;
 * - a field with few values (sex, a ZIP prefix) leaks by frequency alone, however
 *   many bits: the most common index value is the most common value.
 */

export interface IndexEstimate {
  /** Distinct values of the indexed combination (after normalising). */
  readonly distinct: number
  /** Rows the table is expected to hold; checked when given. */
  readonly rows?: number
}

/** Below this many distinct values, frequency analysis reads the index. */
export const MIN_DISTINCT_VALUES = 10_000

/** The bits a coarse index over `distinct` values may keep: [min, max]. */
export function coarseBitRange(distinct: number): { min: number; max: number } {
  return {
    min: Math.ceil(Math.log2(distinct) / 2),
    max: Math.floor(Math.log2(distinct / 2)),
  }
}

function positive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1
}

/** Refuses, naming the reason, a coarse index whose budget would leak or not help. */
export function planCoarseIndex(
  at: string,
  fieldCount: number,
  bits: number,
  estimate: IndexEstimate | undefined,
): void {
  const e = estimate as Partial<IndexEstimate> | undefined
  if (typeof e !== 'object' || e === null || !positive(e.distinct)) {
    throw new ValidationError(
      `${at}.estimate`,
      'must give distinct, the number of distinct values the index covers (and rows, if known)',
    )
  }
  if (e.rows !== undefined && !positive(e.rows)) {
    throw new ValidationError(
      `${at}.estimate.rows`,
      'must be a number of rows, at least 1',
    )
  }
  const d = e.distinct
  if (d < MIN_DISTINCT_VALUES) {
    throw new ValidationError(
      at,
      (fieldCount === 1
        ? 'is a coarse index on a lone low-entropy field'
        : 'covers too few values') +
        ` (${d} distinct, fewer than ${MIN_DISTINCT_VALUES}): frequency analysis of the index values reads them; combine it with other fields, or do not index it`,
    )
  }
  const { min, max } = coarseBitRange(d)
  const shared = d / 2 ** bits
  if (bits > max) {
    throw new ValidationError(
      `${at}.bits`,
      `is too many for ${d} distinct values: about ${shared.toFixed(2)} values would share each index value, fewer than 2, so an index value would identify a value; at most ${max} bits`,
    )
  }
  if (bits < min) {
    throw new ValidationError(
      `${at}.bits`,
      `is too few for ${d} distinct values: about ${Math.round(shared)} values would share each index value (more than √${d} = ${Math.round(Math.sqrt(d))}), so nearly every row collides; at least ${min} bits`,
    )
  }
  if (e.rows !== undefined) {
    const candidates = e.rows / 2 ** bits
    if (candidates > Math.sqrt(e.rows)) {
      throw new ValidationError(
        `${at}.bits`,
        `is too few for ${e.rows} rows: about ${Math.round(candidates)} candidates per lookup, more than √rows = ${Math.round(Math.sqrt(e.rows))}; at least ${Math.ceil(Math.log2(Math.sqrt(e.rows)))} bits`,
      )
    }
  }
}
