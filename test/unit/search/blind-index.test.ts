// Blind-index keys and values (src/crypto/blind-index.ts), recomputed here with
// node:crypto directly: HKDF-SHA256 (RFC 5869) with the salt and framed info the
// module documents, HMAC-SHA256 (RFC 2104) truncated to 16 bytes for an exact
// index and to its top `bits` bits for a coarse one.
import { createHmac, hkdfSync } from 'node:crypto'
import { expect } from '../../support/chai.js'
import {
  coarseIndexValue,
  deriveIndexKey,
  EXACT_INDEX_BYTES,
  exactIndexValue,
  MAX_COARSE_BITS,
  SEARCH_KEY_BYTES,
  type IndexKeyContext,
} from '../../../src/crypto/blind-index.js'
import { hmacSha256 } from '../../../src/crypto/hmac.js'

/** Each part as a 4-byte big-endian length and its UTF-8 bytes. */
function framed(parts: readonly string[]): Buffer {
  return Buffer.concat(
    parts.flatMap((part) => {
      const bytes = Buffer.from(part, 'utf8')
      const length = Buffer.alloc(4)
      length.writeUInt32BE(bytes.length)
      return [length, bytes]
    }),
  )
}

const searchKey = Buffer.from(
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  'hex',
)

const context: IndexKeyContext = {
  table: 'patients',
  index: 'byNationalId',
  kind: 'exact',
  bits: 128,
  fields: [{ column: 'national_id_enc', steps: ['letters-and-digits', 'casefold'] }],
}

const keyOf = (changes: Partial<IndexKeyContext>) =>
  deriveIndexKey(searchKey, { ...context, ...changes }).toString('hex')

describe('crypto/blind-index: deriveIndexKey', () => {
  it('is HKDF-SHA256(search key, salt "emr-vault/search-index/v1", framed table, index, kind, bits, column:steps), 32 bytes', () => {
    const info = framed([
      'patients',
      'byNationalId',
      'exact',
      '128',
      'national_id_enc:letters-and-digits|casefold',
    ])
    const expected = Buffer.from(
      hkdfSync('sha256', searchKey, Buffer.from('emr-vault/search-index/v1'), info, 32),
    )
    const key = deriveIndexKey(searchKey, context)
    expect(key.equals(expected)).to.equal(true)
    expect(key).to.have.length(SEARCH_KEY_BYTES)
    expect(SEARCH_KEY_BYTES).to.equal(32)
  })

  it('frames a two-field coarse index field by field, in declaration order', () => {
    const coarse: IndexKeyContext = {
      table: 'patients',
      index: 'byBirthAndInitial',
      kind: 'coarse',
      bits: 16,
      fields: [
        { column: 'date_of_birth_enc', steps: [] },
        { column: 'full_name_enc', steps: ['casefold', 'last-word', 'prefix-1'] },
      ],
    }
    const info = framed([
      'patients',
      'byBirthAndInitial',
      'coarse',
      '16',
      'date_of_birth_enc:',
      'full_name_enc:casefold|last-word|prefix-1',
    ])
    const expected = hkdfSync(
      'sha256',
      searchKey,
      Buffer.from('emr-vault/search-index/v1'),
      info,
      32,
    )
    expect(deriveIndexKey(searchKey, coarse).equals(Buffer.from(expected))).to.equal(true)
  })

  it('is deterministic, and differs with the search key', () => {
    expect(keyOf({})).to.equal(keyOf({}))
    const other = Buffer.from(searchKey)
    other[31] = other[31]! ^ 1
    expect(deriveIndexKey(other, context).toString('hex')).not.to.equal(keyOf({}))
  })

  it('gives a different key for each table, index, kind, bits, column, normaliser list and field order', () => {
    const keys = [
      keyOf({}),
      keyOf({ table: 'patients2' }),
      keyOf({ index: 'byName' }),
      keyOf({ kind: 'coarse' }),
      keyOf({ bits: 16 }),
      keyOf({
        fields: [{ column: 'mrn_enc', steps: ['letters-and-digits', 'casefold'] }],
      }),
      keyOf({ fields: [{ column: 'national_id_enc', steps: ['letters-and-digits'] }] }),
      keyOf({
        fields: [
          { column: 'national_id_enc', steps: ['casefold', 'letters-and-digits'] },
        ],
      }),
      keyOf({
        fields: [
          { column: 'a_enc', steps: [] },
          { column: 'b_enc', steps: [] },
        ],
      }),
      keyOf({
        fields: [
          { column: 'b_enc', steps: [] },
          { column: 'a_enc', steps: [] },
        ],
      }),
    ]
    expect(new Set(keys).size).to.equal(keys.length)
  })

  it('frames its parts: ("ab", "c") and ("a", "bc") give different keys', () => {
    expect(keyOf({ table: 'ab', index: 'c' })).not.to.equal(
      keyOf({ table: 'a', index: 'bc' }),
    )
    expect(keyOf({ index: 'byA', kind: 'exact' })).not.to.equal(
      keyOf({ index: 'by', kind: 'Aexact' as 'exact' }),
    )
  })

  it('refuses a search key that is not a 32-byte Buffer', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      expect(
        () => deriveIndexKey(Buffer.alloc(length), context),
        String(length),
      ).to.throw(RangeError, `"searchKey" must be 32 bytes, got ${length}`)
    }
    expect(() => deriveIndexKey(searchKey.toString('hex') as never, context)).to.throw(
      TypeError,
      '"searchKey" must be a Buffer',
    )
    expect(() =>
      deriveIndexKey(new Uint8Array(32) as unknown as Buffer, context),
    ).to.throw(TypeError)
  })
})

describe('crypto/blind-index: HMAC-SHA256 (RFC 4231 §4.3, test case 2)', () => {
  it('key "Jefe", data "what do ya want for nothing?"', () => {
    const mac = hmacSha256(
      Buffer.from('Jefe'),
      Buffer.from('what do ya want for nothing?'),
    )
    expect(mac.toString('hex')).to.equal(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
  })
})

describe('crypto/blind-index: exactIndexValue', () => {
  const indexKey = deriveIndexKey(searchKey, context)

  it('is the first 16 bytes of HMAC-SHA256(index key, framed values)', () => {
    for (const values of [['nhs9434765919'], ['1958-03-14', 'f'], [''], []]) {
      const full = createHmac('sha256', indexKey).update(framed(values)).digest()
      const value = exactIndexValue(indexKey, values)
      expect(value).to.have.length(EXACT_INDEX_BYTES)
      expect(EXACT_INDEX_BYTES).to.equal(16)
      expect(value.equals(full.subarray(0, 16)), values.join(',')).to.equal(true)
    }
  })

  it('is deterministic, differs by value and by key, and frames the values', () => {
    const a = exactIndexValue(indexKey, ['nhs9434765919']).toString('hex')
    expect(exactIndexValue(indexKey, ['nhs9434765919']).toString('hex')).to.equal(a)
    expect(exactIndexValue(indexKey, ['nhs9434765918']).toString('hex')).not.to.equal(a)
    const otherKey = deriveIndexKey(searchKey, { ...context, index: 'byName' })
    expect(exactIndexValue(otherKey, ['nhs9434765919']).toString('hex')).not.to.equal(a)
    expect(exactIndexValue(indexKey, ['ab', 'c']).toString('hex')).not.to.equal(
      exactIndexValue(indexKey, ['a', 'bc']).toString('hex'),
    )
    expect(exactIndexValue(indexKey, ['abc']).toString('hex')).not.to.equal(
      exactIndexValue(indexKey, ['ab', 'c']).toString('hex'),
    )
  })
})

describe('crypto/blind-index: coarseIndexValue', () => {
  const indexKey = deriveIndexKey(searchKey, {
    ...context,
    index: 'byBirthAndInitial',
    kind: 'coarse',
    bits: 16,
  })
  const values = Array.from({ length: 200 }, (_, i) => [`1958-03-${i}`, 'f'])
  const top32 = (v: readonly string[]) =>
    createHmac('sha256', indexKey).update(framed(v)).digest().readUInt32BE(0)

  it('is the top `bits` bits of HMAC-SHA256(index key, framed values), for every bits from 1 to 32', () => {
    expect(MAX_COARSE_BITS).to.equal(32)
    for (let bits = 1; bits <= 32; bits++) {
      for (const v of values.slice(0, 20)) {
        const expected = Math.floor(top32(v) / 2 ** (32 - bits))
        expect(coarseIndexValue(indexKey, v, bits), `${bits} bits`).to.equal(expected)
      }
    }
  })

  it('lies in [0, 2^bits), an unsigned integer, and 1 bit gives both 0 and 1', () => {
    for (const bits of [1, 2, 8, 16, 31, 32]) {
      for (const v of values) {
        const value = coarseIndexValue(indexKey, v, bits)
        expect(Number.isInteger(value)).to.equal(true)
        expect(value).to.be.at.least(0)
        expect(value).to.be.below(2 ** bits)
      }
    }
    const oneBit = new Set(values.map((v) => coarseIndexValue(indexKey, v, 1)))
    expect([...oneBit].sort()).to.deep.equal([0, 1])
  })

  it('shares the leading bits of the exact-length tag: fewer bits is a coarser bucket of the same hash', () => {
    for (const v of values.slice(0, 20)) {
      expect(coarseIndexValue(indexKey, v, 10)).to.equal(
        coarseIndexValue(indexKey, v, 16) >>> 6,
      )
    }
  })

  it('refuses bits that are not an integer from 1 to 32', () => {
    for (const bits of [0, 33, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => coarseIndexValue(indexKey, ['x'], bits), String(bits)).to.throw(
        RangeError,
        '"bits" must be an integer from 1 to 32',
      )
    }
  })
})
