import { doubleMetaphone } from 'double-metaphone'

/**
 * What a search index makes of a value before it is MACed: the same person typed
 * two ways ("  O'Brien", "o'brien") must give the same index value, or the search
 * misses them. A normaliser is a pure function with a name; an index lists them
 * in order, and its name list is part of the index key (blind-index.ts), so
 * changing the list is a new index, never a silent mismatch.
 */
export interface Normaliser {
  /** Stable name, part of the index key derivation. */
  readonly name: string
  readonly apply: (value: string) => string
}

function normaliser(name: string, apply: (value: string) => string): Normaliser {
  return Object.freeze({ name, apply })
}

/**
 * Unicode NFKC: compatibility forms folded (full-width digits, ligatures, ℌ → H),
 * so that values pasted from different sources compare equal (UAX #15).
 */
const nfkc = normaliser('nfkc', (v) => v.normalize('NFKC'))

/**
 * Case folded: NFKC, lower case, NFKC again. JavaScript has no full Unicode case
 * folding (CaseFolding.txt); toLowerCase plus NFKC covers what names and ids
 * need (it maps "ß" to itself, not to "ss": two spellings stay two values).
 */
const casefold = normaliser('casefold', (v) =>
  v.normalize('NFKC').toLowerCase().normalize('NFKC'),
)

/** Trimmed, every run of white space one space. */
const whitespace = normaliser('whitespace', (v) => v.trim().replace(/\s+/gu, ' '))

/** Letters and digits only (identifiers typed with spaces, dashes or dots). */
const lettersAndDigits = normaliser('letters-and-digits', (v) =>
  v.normalize('NFKC').replace(/[^\p{L}\p{N}]/gu, ''),
)

/** Decimal digits only, as ASCII (after NFKC, so full-width digits count). */
const digits = normaliser('digits', (v) => v.normalize('NFKC').replace(/[^0-9]/g, ''))

/** The last word (a family name at the end of a full name). */
const lastWord = normaliser('last-word', (v) => {
  const words = v.trim().split(/\s+/u)
  return words[words.length - 1] ?? ''
})

/** The year of a YYYY-MM-DD date; anything else gives the empty string. */
const year = normaliser('year', (v) => /^(\d{4})-\d{2}-\d{2}/.exec(v)?.[1] ?? '')

/**
 * Double Metaphone's primary code (Lawrence Philips, 2000, via the
 * `double-metaphone` package): names that sound alike share a code ("Smith",
 * "Smyth"). Made for English names; others are coded less well.
 */
const phonetic = normaliser('double-metaphone', (v) => doubleMetaphone(v)[0])

/** The first `n` characters (code points, not UTF-16 units). */
function prefix(n: number): Normaliser {
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new RangeError('prefix length must be an integer from 1 to 64')
  }
  return normaliser(`prefix-${n}`, (v) => [...v].slice(0, n).join(''))
}

export const normalise = Object.freeze({
  nfkc,
  casefold,
  whitespace,
  lettersAndDigits,
  digits,
  lastWord,
  year,
  phonetic,
  prefix,
})

/** Applies `steps` in order. */
export function applyNormalisers(value: string, steps: readonly Normaliser[]): string {
  return steps.reduce((v, step) => step.apply(v), value)
}
