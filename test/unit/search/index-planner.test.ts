// The coarse-index planner (src/schema/index-planner.ts): the three refusals of
// issue 12's acceptance list, each with a message naming its reason, the
// declarations of the built-in patients table accepted, and the limits at the
// exact boundaries of its formulae:
//   D/2^b ≥ 2 (an index value never stands for one value)  → b ≤ ⌊log2(D/2)⌋
//   D/2^b ≤ √D (a lookup narrows the search)                → b ≥ ⌈log2(D)/2⌉
//   R/2^b ≤ √R (candidates per lookup, when rows are given) → b ≥ ⌈log2(R)/2⌉
//   D ≥ 10,000 (frequency analysis), whatever the bits.
import { expect } from '../../support/chai.js'
import { PATIENTS } from '../../../src/schema/chart-tables.js'
import { defineTable } from '../../../src/schema/define-table.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import {
  coarseBitRange,
  MIN_DISTINCT_VALUES,
  planCoarseIndex,
  type IndexEstimate,
} from '../../../src/schema/index-planner.js'
import { normalise, type Normaliser } from '../../../src/schema/normalisers.js'
import { searchIndex } from '../../../src/schema/search-indexes.js'
import { expectValidation } from '../schema/column-checks.js'

/** 100 years of dates of birth. */
const DATES_OF_BIRTH = 36_525

const plan =
  (bits: number, estimate: IndexEstimate, fieldCount = 1) =>
  () =>
    planCoarseIndex('indexes.byX', fieldCount, bits, estimate)

/** A table with one coarse index over `fields`, as an application would declare it. */
const declare =
  (
    fields: Record<string, readonly Normaliser[]>,
    bits: number,
    estimate: IndexEstimate,
  ) =>
  () =>
    defineTable({
      name: 'people',
      encrypted: {
        dateOfBirth: encrypted.date(),
        sex: encrypted.text({ maxBytes: 16 }),
        surname: encrypted.text({ maxBytes: 200 }),
      },
      indexes: { byX: searchIndex.coarse({ fields, bits, estimate }) },
    })

describe('search index planner: the three refusals of issue 12', () => {
  it('too many bits for a date of birth alone: 15 bits over 36,525 dates leave ~1.1 per index value', () => {
    expect(coarseBitRange(DATES_OF_BIRTH)).to.deep.equal({ min: 8, max: 14 })
    expectValidation(
      declare({ dateOfBirth: [] }, 15, { distinct: DATES_OF_BIRTH }),
      'indexes.byX.bits',
      /^"indexes\.byX\.bits" is too many for 36525 distinct values: about 1\.11 values would share each index value, fewer than 2, so an index value would identify a value; at most 14 bits$/,
    )
    // 32 bits, the most an index can keep: every date its own value.
    expectValidation(
      declare({ dateOfBirth: [] }, 32, { distinct: DATES_OF_BIRTH }),
      'indexes.byX.bits',
      /too many .* would identify a value; at most 14 bits/,
    )
  })

  it('a lone sex field: a coarse index on a low-entropy field, however few or many bits', () => {
    for (const bits of [1, 2, 16, 32]) {
      expectValidation(
        declare({ sex: [normalise.casefold] }, bits, { distinct: 3 }),
        'indexes.byX',
        /^"indexes\.byX" is a coarse index on a lone low-entropy field \(3 distinct, fewer than 10000\): frequency analysis of the index values reads them; combine it with other fields, or do not index it$/,
      )
    }
  })

  it('a budget that makes every row collide: 4 bits over a million values leave ~62,500 per index value', () => {
    expectValidation(
      declare({ surname: [], dateOfBirth: [] }, 4, { distinct: 1_000_000 }),
      'indexes.byX.bits',
      /^"indexes\.byX\.bits" is too few for 1000000 distinct values: about 62500 values would share each index value \(more than √1000000 = 1000\), so nearly every row collides; at least 10 bits$/,
    )
    // And by rows: 10 bits over 2^24 rows return 16,384 candidates per lookup.
    expectValidation(
      plan(10, { distinct: 100_000, rows: 16_777_216 }, 2),
      'indexes.byX.bits',
      /^"indexes\.byX\.bits" is too few for 16777216 rows: about 16384 candidates per lookup, more than √rows = 4096; at least 12 bits$/,
    )
  })
})

describe('search index planner: accepted declarations', () => {
  it("accepts the patients table's two coarse indexes (16 bits each)", () => {
    const coarse = PATIENTS.indexes.filter((i) => i.kind === 'coarse')
    expect(coarse.map((i) => [i.name, i.bits, i.fields.length])).to.deep.equal([
      ['byBirthAndInitial', 16, 2],
      ['bySurnameSoundAndYear', 16, 2],
    ])
    // The same estimates as chart-tables.ts, checked again here.
    const birthAndInitial = { distinct: DATES_OF_BIRTH * 26, rows: 1_000_000 }
    expect(plan(16, birthAndInitial, 2)).not.to.throw()
    expect(coarseBitRange(birthAndInitial.distinct)).to.deep.equal({ min: 10, max: 18 })
    // ~14.5 date-and-initial pairs share each value; ~15 candidates per lookup at 1M.
    expect(birthAndInitial.distinct / 2 ** 16).to.be.within(14, 15)
    expect(birthAndInitial.rows / 2 ** 16).to.be.within(15, 16)
    expect(plan(16, { distinct: 1_000_000, rows: 1_000_000 }, 2)).not.to.throw()
  })

  it('accepts a date of birth alone at 14 bits and 8 bits, its limits', () => {
    expect(declare({ dateOfBirth: [] }, 14, { distinct: DATES_OF_BIRTH })).not.to.throw()
    expect(declare({ dateOfBirth: [] }, 8, { distinct: DATES_OF_BIRTH })).not.to.throw()
    expectValidation(
      declare({ dateOfBirth: [] }, 7, { distinct: DATES_OF_BIRTH }),
      'indexes.byX.bits',
      /too few for 36525 distinct values: about 285 values .* at least 8 bits/,
    )
  })
})

describe('search index planner: boundaries', () => {
  it('D = 2^16: 15 bits leave exactly 2 per value (accepted), 16 leave 1 (refused)', () => {
    expect(coarseBitRange(65_536)).to.deep.equal({ min: 8, max: 15 })
    expect(plan(15, { distinct: 65_536 })).not.to.throw()
    expectValidation(plan(16, { distinct: 65_536 }), 'indexes.byX.bits', /too many/)
  })

  it('D = 2^16: 8 bits leave exactly √D = 256 per value (accepted), 7 leave 512 (refused)', () => {
    expect(plan(8, { distinct: 65_536 })).not.to.throw()
    expectValidation(
      plan(7, { distinct: 65_536 }),
      'indexes.byX.bits',
      /too few for 65536 distinct values: about 512 values .*more than √65536 = 256/,
    )
  })

  it('rows: R/2^b = √R exactly is accepted (2^24 rows, 12 bits), one bit fewer is refused', () => {
    expect(plan(12, { distinct: 100_000, rows: 2 ** 24 })).not.to.throw()
    expectValidation(
      plan(11, { distinct: 100_000, rows: 2 ** 24 }),
      'indexes.byX.bits',
      /too few for 16777216 rows/,
    )
  })

  it(`distinct: ${MIN_DISTINCT_VALUES} is enough, one fewer is low entropy (lone field or combination)`, () => {
    expect(MIN_DISTINCT_VALUES).to.equal(10_000)
    const { min, max } = coarseBitRange(MIN_DISTINCT_VALUES)
    expect({ min, max }).to.deep.equal({ min: 7, max: 12 })
    expect(plan(min, { distinct: MIN_DISTINCT_VALUES })).not.to.throw()
    expect(plan(max, { distinct: MIN_DISTINCT_VALUES })).not.to.throw()
    expectValidation(
      plan(10, { distinct: MIN_DISTINCT_VALUES - 1 }),
      'indexes.byX',
      /lone low-entropy field \(9999 distinct/,
    )
    expectValidation(
      plan(10, { distinct: MIN_DISTINCT_VALUES - 1 }, 2),
      'indexes.byX',
      /^"indexes\.byX" covers too few values \(9999 distinct, fewer than 10000\)/,
    )
  })

  it('coarseBitRange agrees with the rules counted bit by bit, for D from 10^4 to 2^40', () => {
    const ds = [
      10_000,
      DATES_OF_BIRTH,
      65_535,
      65_536,
      65_537,
      DATES_OF_BIRTH * 26,
      1_000_000,
      3 ** 12,
      4 ** 10,
      4 ** 10 + 1,
      2 ** 31,
      2 ** 32,
      2 ** 40,
    ]
    for (const d of ds) {
      const bits = Array.from({ length: 64 }, (_, b) => b)
      const max = Math.max(...bits.filter((b) => d / 2 ** b >= 2))
      const min = Math.min(...bits.filter((b) => d / 2 ** b <= Math.sqrt(d)))
      expect(coarseBitRange(d), String(d)).to.deep.equal({ min, max })
    }
  })
})

describe('search index planner: the estimate itself', () => {
  it('must give distinct as a number of at least 1, and rows, when given, likewise', () => {
    for (const estimate of [undefined, null, {}, { distinct: 0 }, { distinct: '5' }]) {
      expectValidation(
        plan(16, estimate as never),
        'indexes.byX.estimate',
        /must give distinct, the number of distinct values the index covers/,
      )
    }
    for (const distinct of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expectValidation(
        plan(16, { distinct }),
        'indexes.byX.estimate',
        /must give distinct/,
      )
    }
    for (const rows of [0, Number.NaN, -5, '10' as never]) {
      expectValidation(
        plan(16, { distinct: 1_000_000, rows }),
        'indexes.byX.estimate.rows',
        /must be a number of rows, at least 1/,
      )
    }
  })
})
