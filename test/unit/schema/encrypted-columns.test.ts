import { expect } from '../../support/chai.js'
import { readVectorJson } from '../../support/vectors.js'
import { MAX_ENCRYPTED_BYTES } from '../../../src/schema/column-options.js'
import { DATE_OR_DATE_TIME, encrypted } from '../../../src/schema/encrypted-columns.js'
import { MAX_JSON_DEPTH } from '../../../src/schema/plain-json.js'
import { expectIntegrity, expectValidation } from './column-checks.js'

/** 1 MiB, the size of a clinical note. */
const LONG_TEXT_BYTES = 1024 * 1024

/**
 * The rule the chart's occurredOn had before it was declared (a regex, then a
 * calendar check through Date.UTC), pinned here: DATE_OR_DATE_TIME agrees with
 * it except on the years 0001-0099, which Date.UTC reads as 1901-1999.
 */
const CHART_DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?Z)?$/
function chartAccepted(value: string): boolean {
  if (!CHART_DATE_TIME.test(value)) return false
  const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number]
  const date = new Date(Date.UTC(y, m - 1, d))
  return (
    date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d
  )
}

/** Big List of Naughty Strings (minimaxir/big-list-of-naughty-strings, MIT). */
const BLNS = readVectorJson<string[]>('blns/blns.json')
const BLNS_BYTES = readVectorJson<string[]>('blns/blns.base64.json').map((b) =>
  Buffer.from(b, 'base64'),
)

const F = 'field'
const roundTrip = <T>(
  column: { encode(v: unknown, f: string): Buffer; decode(b: Buffer): T },
  value: unknown,
): T => column.decode(column.encode(value, F))

describe('encrypted columns', () => {
  describe('every factory', () => {
    const all = {
      text: () => encrypted.text({ maxBytes: 5 }),
      date: () => encrypted.date(),
      dateTime: () => encrypted.dateTime(),
      integer: () => encrypted.integer(),
      decimal: () => encrypted.decimal({ precision: 8, scale: 3 }),
      boolean: () => encrypted.boolean(),
      json: () => encrypted.json({ maxBytes: 5, check: (_v): _v is 1 => true }),
      bytes: () => encrypted.bytes({ maxBytes: 5 }),
    }

    it('makes a frozen encrypted column of its type, not nullable unless asked', () => {
      for (const [type, make] of Object.entries(all)) {
        const c = make()
        expect(c.kind, type).to.equal('encrypted')
        expect(c.type, type).to.equal(type)
        expect(c.nullable, type).to.equal(false)
        expect(c.column, type).to.equal(undefined)
        expect(Object.isFrozen(c), type).to.equal(true)
      }
      expect(encrypted.date({ nullable: true, column: 'dob_enc' })).to.include({
        nullable: true,
        column: 'dob_enc',
      })
    })

    it('sizes fixed formats by their largest encoding', () => {
      expect(all.date().maxBytes).to.equal(10)
      expect(all.dateTime().maxBytes).to.equal(24)
      expect(all.integer().maxBytes).to.equal(17)
      expect(all.boolean().maxBytes).to.equal(1)
      expect(all.decimal().maxBytes).to.equal(10) // p + 2: sign and point
      expect(all.text().maxBytes).to.equal(5)
    })

    it('refuses malformed common options at declaration', () => {
      expectValidation(
        () => encrypted.date({ nullable: 'yes' as never }),
        'encrypted.date.nullable',
        /true or false/,
      )
      expectValidation(
        () => encrypted.boolean({ column: 5 as never }),
        'encrypted.boolean.column',
        /column name/,
      )
      expectValidation(
        () => encrypted.text(null as never),
        'encrypted.text',
        /options object/,
      )
      expectValidation(
        () => encrypted.integer([] as never),
        'encrypted.integer',
        /options object/,
      )
    })

    it('refuses a maxBytes that is not a whole number from 1 to 16 MiB - 1 KiB', () => {
      for (const maxBytes of [
        0,
        -1,
        1.5,
        NaN,
        MAX_ENCRYPTED_BYTES + 1,
        '10',
        undefined,
      ]) {
        for (const type of ['text', 'json', 'bytes'] as const) {
          expectValidation(
            () =>
              (encrypted[type] as (o: unknown) => unknown)({
                maxBytes,
                check: () => true,
              }),
            `encrypted.${type}.maxBytes`,
            /whole number from 1 to 16776192/,
          )
        }
      }
      expect(encrypted.bytes({ maxBytes: MAX_ENCRYPTED_BYTES }).maxBytes).to.equal(
        16 * 1024 * 1024 - 1024,
      )
    })
  })

  describe('text', () => {
    const body = encrypted.text({ maxBytes: LONG_TEXT_BYTES, allowBlank: true })

    it('round-trips every naughty string exactly, as the same bytes the chart writes', () => {
      expect(BLNS.length).to.be.greaterThan(500)
      for (const [i, s] of BLNS.entries()) {
        const bytes = body.encode(s, F)
        // The chart's text fields have always held the string's UTF-8 bytes.
        expect(bytes.equals(Buffer.from(s, 'utf8')), `blns ${i}`).to.equal(true)
        expect(body.decode(bytes), `blns ${i}`).to.equal(s)
      }
    })

    it('keeps a leading U+FEFF, trailing spaces and unnormalised forms as data', () => {
      for (const s of ['\uFEFFx', '  padded  ', 'e\u0301', '\u00e9', '\0', '\r\n']) {
        expect(roundTrip(body, s)).to.equal(s)
      }
    })

    it('refuses what is not a string, and a lone surrogate', () => {
      const t = encrypted.text({ maxBytes: 100 })
      for (const v of [42, null, undefined, true, Buffer.from('x'), ['a'], { a: 1 }]) {
        expectValidation(() => t.encode(v, F), F, /^"field" must be a string$/)
      }
      for (const s of ['PHI\uD800x', 'PHI\uDC00', 'PHI\uDBFF']) {
        expectValidation(() => t.encode(s, F), F, /valid Unicode/, ['PHI'])
      }
    })

    it('counts UTF-8 bytes against maxBytes and names only the sizes', () => {
      const t = encrypted.text({ maxBytes: 6 })
      for (const ok of ['ééé', '😀é', 'abcdef']) expect(roundTrip(t, ok)).to.equal(ok)
      for (const [s, size] of [
        ['é€é', 7],
        ['PHIabcd', 7],
        ['😀😀', 8],
      ] as const) {
        expectValidation(
          () => t.encode(s, F),
          F,
          new RegExp(`^"field" must be at most 6 bytes in UTF-8, got ${size}$`),
          [s],
        )
      }
    })

    it('refuses a non-nullable blank text unless allowBlank; a nullable one may be blank', () => {
      const required = encrypted.text({ maxBytes: 10 })
      for (const s of ['', ' ', '\t\n', '\u00a0', '\uFEFF']) {
        expectValidation(() => required.encode(s, F), F, /must not be empty/)
        expect(roundTrip(encrypted.text({ maxBytes: 10, allowBlank: true }), s)).to.equal(
          s,
        )
        expect(roundTrip(encrypted.text({ maxBytes: 10, nullable: true }), s)).to.equal(s)
      }
    })

    it('checks a pattern object, and treats a throwing one as not matching', () => {
      const code = encrypted.text({
        maxBytes: 10,
        pattern: Object.assign(/^[A-Z]\d{2}$/, {
          description: 'must be a code like A01',
        }),
      })
      expect(roundTrip(code, 'B12')).to.equal('B12')
      expectValidation(
        () => code.encode('PHIb12', F),
        F,
        /^"field" must be a code like A01$/,
        ['PHI'],
      )
      const throwing = encrypted.text({
        maxBytes: 10,
        pattern: {
          test: (v: string) => {
            throw new Error(`bad ${v}`)
          },
          description: 'must be fine',
        },
      })
      expectValidation(() => throwing.encode('PHI', F), F, /must be fine/, ['PHI'])
      const truthy = encrypted.text({
        maxBytes: 10,
        pattern: { test: () => 1 as never, description: 'must be fine' },
      })
      expectValidation(() => truthy.encode('x', F), F, /must be fine/)
    })

    it('refuses a malformed pattern or allowBlank at declaration', () => {
      for (const pattern of [
        /x/,
        { test: () => true },
        { description: 'd' },
        'x',
        null,
      ]) {
        expectValidation(
          () => encrypted.text({ maxBytes: 1, pattern: pattern as never }),
          'encrypted.text.pattern',
          /test\(value\) and a description/,
        )
      }
      for (const flags of ['g', 'y']) {
        expectValidation(
          () =>
            encrypted.text({
              maxBytes: 1,
              pattern: Object.assign(new RegExp('x', flags), { description: 'd' }),
            }),
          'encrypted.text.pattern',
          /g or y flag/,
        )
      }
      expectValidation(
        () => encrypted.text({ maxBytes: 1, allowBlank: 'no' as never }),
        'encrypted.text.allowBlank',
        /true or false/,
      )
    })

    it('decodes invalid UTF-8 as an IntegrityError, never a replacement character', () => {
      expectIntegrity(() => body.decode(Buffer.from([0x50, 0xc3])))
      expectIntegrity(() => body.decode(Buffer.from([0xed, 0xa0, 0x80])))
    })
  })

  describe('DATE_OR_DATE_TIME (a clinical record occurredOn)', () => {
    const occurredOn = encrypted.text({ maxBytes: 24, pattern: DATE_OR_DATE_TIME })
    const accepted = [
      '2026-01-01',
      '2024-02-29',
      '2026-01-01T00:00Z',
      '2026-12-31T23:59:59Z',
      '2026-06-15T08:30:00.5Z',
      '2026-06-15T08:30:00.123Z',
      '9999-12-31T23:59:59.999Z',
    ]
    const refused = [
      'yesterday',
      '2026-01-01T25:00Z',
      '2023-02-29',
      '2023-02-29T10:00Z',
      '2026-13-01',
      '2026-1-1',
      '2026-01-01T10:00',
      '2026-01-01T10:00+01:00',
      '2026-01-01T10:00:60Z',
      '2026-01-01T10:00:0.12Z',
      '2026-01-01 10:00Z',
      '0000-01-01',
    ]

    it('accepts and refuses as the chart does today', () => {
      for (const s of accepted) {
        expect(roundTrip(occurredOn, s), s).to.equal(s)
        expect(chartAccepted(s), s).to.equal(true)
      }
      for (const s of refused) {
        expectValidation(
          () => occurredOn.encode(s, F),
          F,
          /^"field" must be a date YYYY-MM-DD or a UTC date-time YYYY-MM-DDTHH:MM\[:SS\[\.sss\]\]Z$/,
        )
        expect(chartAccepted(s), s).to.equal(false)
      }
    })

    it('takes years 0001 to 0099 as written (Date.UTC would read them as 19xx)', () => {
      expect(roundTrip(occurredOn, '0004-02-29')).to.equal('0004-02-29')
      expect(chartAccepted('0004-02-29')).to.equal(false)
      expectValidation(() => occurredOn.encode('0003-02-29', F), F, /must be a date/)
    })
  })

  describe('date', () => {
    const d = encrypted.date()

    it('round-trips calendar dates as their 10 ASCII characters', () => {
      for (const s of [
        '0001-01-01',
        '9999-12-31',
        '2024-02-29',
        '2000-02-29',
        '1970-01-01',
      ]) {
        const bytes = d.encode(s, F)
        expect(bytes.equals(Buffer.from(s, 'ascii')), s).to.equal(true)
        expect(d.decode(bytes)).to.equal(s)
      }
    })

    it('refuses dates that are not on the calendar or not YYYY-MM-DD', () => {
      for (const s of [
        '2023-02-29',
        '1900-02-29',
        '2023-02-30',
        '2023-04-31',
        '2023-13-01',
        '2023-00-10',
        '2023-01-00',
        '0000-01-01',
        '2023-1-1',
        '23-01-01',
        '12023-01-01',
        '2023-01-01T00:00Z',
        ' 2023-01-01',
        '2023/01/01',
        '２０２３-01-01',
      ]) {
        expectValidation(() => d.encode(s, F), F, /^"field" must be a date YYYY-MM-DD$/, [
          s,
        ])
      }
      for (const v of [20230101, null, undefined]) {
        expectValidation(() => d.encode(v, F), F, /must be a date YYYY-MM-DD/)
      }
      expectValidation(() => d.encode(new Date(), F), F, /dateTime column/)
    })

    it('decodes bytes that are not a date as an IntegrityError', () => {
      expectIntegrity(() => d.decode(Buffer.from('2023-02-30')), ['2023'])
      expectIntegrity(() => d.decode(Buffer.from('')))
    })
  })

  describe('dateTime', () => {
    const dt = encrypted.dateTime()

    it('round-trips Dates to the millisecond as toISOString()', () => {
      for (const iso of [
        '0001-01-01T00:00:00.000Z',
        '9999-12-31T23:59:59.999Z',
        '1970-01-01T00:00:00.000Z',
        '1969-12-31T23:59:59.999Z',
        '2024-02-29T12:34:56.789Z',
        '2026-03-29T01:30:00.001Z',
      ]) {
        const date = new Date(iso)
        const bytes = dt.encode(date, F)
        expect(bytes.toString('ascii')).to.equal(iso)
        expect(bytes.length).to.equal(24)
        const back = dt.decode(bytes)
        expect(back).to.be.instanceOf(Date)
        expect(back.getTime(), iso).to.equal(date.getTime())
        expect(back).not.to.equal(date)
      }
    })

    it('refuses what is not a valid Date in the years 1 to 9999', () => {
      for (const v of ['2024-01-01T00:00:00.000Z', 1700000000000, null, {}]) {
        expectValidation(() => dt.encode(v, F), F, /^"field" must be a Date$/)
      }
      expectValidation(() => dt.encode(new Date(NaN), F), F, /Invalid Date/)
      for (const iso of ['+010000-01-01T00:00:00.000Z', '0000-12-31T23:59:59.999Z']) {
        expectValidation(() => dt.encode(new Date(iso), F), F, /years 1 to 9999/)
      }
    })

    it('decodes bytes that are not toISOString() output as an IntegrityError', () => {
      for (const s of [
        '2024-01-01',
        '2024-01-01T00:00:00Z',
        '2024-02-30T00:00:00.000Z',
      ]) {
        expectIntegrity(() => dt.decode(Buffer.from(s)), ['2024'])
      }
    })
  })

  describe('integer', () => {
    const n = encrypted.integer()

    it('round-trips safe integers as decimal ASCII, at most 17 bytes', () => {
      for (const v of [0, 1, -1, 42, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
        const bytes = n.encode(v, F)
        expect(bytes.toString('ascii')).to.equal(String(v))
        expect(n.decode(bytes)).to.equal(v)
      }
      expect(n.encode(Number.MIN_SAFE_INTEGER, F).length).to.equal(n.maxBytes)
    })

    it('stores -0 as 0: an integer has one zero', () => {
      const back = roundTrip(n, -0)
      expect(Object.is(back, 0)).to.equal(true)
      expect(n.encode(-0, F).toString()).to.equal('0')
    })

    it('refuses non-numbers, fractions, non-finite and unsafe numbers', () => {
      for (const v of ['12', 12n, null, true, [1]]) {
        expectValidation(() => n.encode(v, F), F, /^"field" must be a number$/)
      }
      for (const v of [1.5, NaN, Infinity, -Infinity]) {
        expectValidation(() => n.encode(v, F), F, /must be a whole number/)
      }
      for (const v of [2 ** 53, -(2 ** 53), 1e21]) {
        expectValidation(() => n.encode(v, F), F, /must be a safe integer/)
      }
    })

    it('checks min and max, inclusive, and names only the limit', () => {
      const age = encrypted.integer({ min: 0, max: 150 })
      expect(roundTrip(age, 0)).to.equal(0)
      expect(roundTrip(age, 150)).to.equal(150)
      expectValidation(() => age.encode(-1, F), F, /^"field" must be at least 0$/)
      expectValidation(() => age.encode(15100, F), F, /^"field" must be at most 150$/, [
        '15100',
      ])
    })

    it('refuses bad min and max at declaration', () => {
      expectValidation(
        () => encrypted.integer({ min: 2, max: 1 }),
        'encrypted.integer',
        /min greater than max/,
      )
      for (const min of [1.5, 2 ** 53, '1', NaN]) {
        expectValidation(
          () => encrypted.integer({ min: min as never }),
          'encrypted.integer.min',
          /whole number/,
        )
      }
    })

    it('decodes bytes that are not a safe integer as an IntegrityError', () => {
      for (const s of ['', '01', '-0', '1.0', '+1', '9007199254740992', '1e3', ' 1']) {
        expectIntegrity(() => n.decode(Buffer.from(s)))
      }
    })
  })

  describe('decimal', () => {
    it('stores the string verbatim, trailing zeros included', () => {
      const dose = encrypted.decimal({ precision: 8, scale: 3 })
      for (const s of [
        '1.50',
        '1.5',
        '1.500',
        '0',
        '0.000',
        '-0.001',
        '12345',
        '-99999.999',
      ]) {
        const bytes = dose.encode(s, F)
        expect(bytes.toString('ascii')).to.equal(s)
        expect(dose.decode(bytes)).to.equal(s)
      }
    })

    it('round-trips full precision, DECIMAL(65,30) included', () => {
      const big = encrypted.decimal({ precision: 65, scale: 30 })
      const s = `-${'9'.repeat(35)}.${'9'.repeat(30)}`
      expect(roundTrip(big, s)).to.equal(s)
      expect(big.encode(s, F).length).to.equal(big.maxBytes)
      expect(big.maxBytes).to.equal(67)
      const whole = encrypted.decimal({ precision: 5, scale: 0 })
      expect(roundTrip(whole, '-12345')).to.equal('-12345')
      expect(whole.maxBytes).to.equal(6) // no point
      const fraction = encrypted.decimal({ precision: 3, scale: 3 })
      expect(roundTrip(fraction, '-0.999')).to.equal('-0.999')
      expect(fraction.maxBytes).to.equal(6) // the lone 0 before the point
    })

    it('refuses a number, saying to pass a string', () => {
      const dose = encrypted.decimal({ precision: 8, scale: 3 })
      for (const v of [1.5, 0, 10n]) {
        expectValidation(
          () => dose.encode(v, F),
          F,
          /must be a string such as .*not exact/,
        )
      }
      expectValidation(() => dose.encode(null, F), F, /must be a decimal string/)
    })

    it('refuses other spellings and values outside DECIMAL(p,s)', () => {
      const dose = encrypted.decimal({ precision: 8, scale: 3 })
      for (const s of [
        '+1',
        '1e2',
        '1E2',
        '01',
        '00.5',
        '.5',
        '5.',
        '1,5',
        ' 1',
        '1 ',
        '--1',
        '',
        '٣',
        '0x1',
      ]) {
        expectValidation(() => dose.encode(s, F), F, /must be a decimal string such as/)
      }
      expectValidation(
        () => dose.encode('1.2345', F),
        F,
        /at most 3 digits after the point/,
      )
      expectValidation(
        () => dose.encode('123456.1', F),
        F,
        /at most 5 digits before the point/,
      )
      expectValidation(() => dose.encode('9'.repeat(40), F), F, /must fit DECIMAL\(8,3\)/)
      for (const s of ['-0', '-0.00']) {
        expectValidation(() => dose.encode(s, F), F, /negative zero/)
      }
      const whole = encrypted.decimal({ precision: 4, scale: 0 })
      expectValidation(() => whole.encode('1.0', F), F, /whole number/)
      const fraction = encrypted.decimal({ precision: 2, scale: 2 })
      expectValidation(() => fraction.encode('1.5', F), F, /at most 0 digits before/)
    })

    it('refuses precision and scale outside MySQL DECIMAL at declaration', () => {
      for (const precision of [0, 66, 1.5, '8']) {
        expectValidation(
          () => encrypted.decimal({ precision: precision as never, scale: 0 }),
          'encrypted.decimal.precision',
          /from 1 to 65/,
        )
      }
      for (const [precision, scale] of [
        [40, 31],
        [5, 6],
        [5, -1],
      ] as const) {
        expectValidation(
          () => encrypted.decimal({ precision, scale }),
          'encrypted.decimal.scale',
          /whole number from 0/,
        )
      }
    })
  })

  describe('boolean', () => {
    const b = encrypted.boolean()

    it('round-trips as one ASCII byte 1 or 0', () => {
      expect(b.encode(true, F).toString()).to.equal('1')
      expect(b.encode(false, F).toString()).to.equal('0')
      expect(roundTrip(b, true)).to.equal(true)
      expect(roundTrip(b, false)).to.equal(false)
    })

    it('refuses anything but true or false, and decodes only 1 and 0', () => {
      for (const v of [1, 0, 'true', null, undefined]) {
        expectValidation(() => b.encode(v, F), F, /must be true or false/)
      }
      for (const s of ['', 't', '10', '\x01'])
        expectIntegrity(() => b.decode(Buffer.from(s)))
    })
  })

  describe('json', () => {
    const anything = (_v: unknown): _v is unknown => true
    const doc = encrypted.json({ maxBytes: LONG_TEXT_BYTES, check: anything })

    it('round-trips the naughty strings as values, keys and one array', () => {
      expect(roundTrip(doc, BLNS)).to.deep.equal(BLNS)
      for (const s of BLNS) {
        expect(roundTrip(doc, s)).to.equal(s)
        expect(roundTrip(doc, { [s]: [s, { s }] })).to.deep.equal({ [s]: [s, { s }] })
      }
    })

    it('round-trips numbers exactly, and the other JSON values', () => {
      const values = [
        0,
        Number.MAX_SAFE_INTEGER,
        Number.MIN_SAFE_INTEGER,
        Number.MAX_VALUE,
        Number.MIN_VALUE,
        -Number.MIN_VALUE,
        0.1,
        1 / 3,
        null,
        true,
        false,
        '',
        [],
        {},
        { nested: { deeper: [1, [2, [3]], { a: null }] } },
      ]
      for (const v of values) expect(roundTrip(doc, v)).to.deep.equal(v)
      const shared = { x: 1 }
      expect(roundTrip(doc, [shared, shared])).to.deep.equal([{ x: 1 }, { x: 1 }])
      const dictionary = Object.assign(Object.create(null) as object, { a: 1 })
      expect(roundTrip(doc, dictionary)).to.deep.equal({ a: 1 })
    })

    it('stores JSON.stringify text in UTF-8 and checks maxBytes on it', () => {
      const small = encrypted.json({ maxBytes: 13, check: anything })
      const bytes = small.encode({ a: 'é€' }, F)
      expect(bytes.toString('utf8')).to.equal('{"a":"é€"}')
      expect(bytes.length).to.equal(13)
      expectValidation(
        () => small.encode({ a: 'PHI€' }, F),
        F,
        /at most 13 bytes as JSON in UTF-8, got 14/,
        ['PHI'],
      )
    })

    it('refuses values JSON would change or drop, naming the kind of value only', () => {
      class Dose {
        mg = 5
      }
      const cycle: Record<string, unknown> = { name: 'PHI' }
      cycle.self = cycle
      const holes = [1, , 3] // eslint-disable-line no-sparse-arrays
      const holeAndExtra = Object.assign([1, , 3], { extra: 'PHI' }) // eslint-disable-line no-sparse-arrays
      const cases: [unknown, RegExp][] = [
        [undefined, /holds undefined/],
        [{ a: undefined }, /holds undefined/],
        [[() => 'PHI'], /holds a function/],
        [{ s: Symbol('PHI') }, /holds a symbol/],
        [{ n: 10n }, /holds a bigint/],
        [{ when: new Date() }, /holds a Date/],
        [new Map([['PHI', 1]]), /holds a Map/],
        [new Set(['PHI']), /holds a Set/],
        [new Dose(), /holds a Dose/],
        [Buffer.from('PHI'), /holds a Buffer/],
        [/PHI/, /holds a RegExp/],
        [new String('PHI'), /holds a String/],
        [cycle, /holds a cycle/],
        [NaN, /not finite/],
        [{ x: Infinity }, /not finite/],
        [-0, /-0/],
        [[0, -0], /-0/],
        [holes, /holes/],
        [holeAndExtra, /holes/],
        [Object.assign([1], { extra: 'PHI' }), /extra properties/],
        [{ [Symbol('k')]: 'PHI' }, /symbol key/],
        [
          Object.defineProperty({}, 'k', { get: () => 'PHI', enumerable: true }),
          /getter or a non-enumerable/,
        ],
        [Object.defineProperty({}, 'k', { value: 'PHI' }), /getter or a non-enumerable/],
        [{ text: 'PHI\uD800' }, /lone surrogate/],
        [{ 'PHI\uDC00': 1 }, /key with a lone surrogate/],
      ]
      for (const [value, rule] of cases) {
        expectValidation(() => doc.encode(value, F), F, rule, ['PHI', 'self', 'mg'])
        expectValidation(
          () => doc.encode(value, F),
          F,
          /^"field" must be plain JSON; it /,
        )
      }
    })

    it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more`, () => {
      const nest = (levels: number): unknown => {
        let v: unknown = 0
        for (let i = 0; i < levels; i++) v = [v]
        return v
      }
      expect(roundTrip(doc, nest(MAX_JSON_DEPTH))).to.deep.equal(nest(MAX_JSON_DEPTH))
      expectValidation(() => doc.encode(nest(MAX_JSON_DEPTH + 1), F), F, /nests deeper/)
    })

    interface Allergy {
      substance: string
      severity: 'mild' | 'severe'
    }
    const isAllergy = (v: unknown): v is Allergy =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Allergy).substance === 'string' &&
      ['mild', 'severe'].includes((v as Allergy).severity)

    it('passes the value to the schema check as it will read back', () => {
      const allergy = encrypted.json({ maxBytes: 200, check: isAllergy })
      const a: Allergy = { substance: 'penicillin', severity: 'severe' }
      expect(roundTrip(allergy, a)).to.deep.equal(a)
      const seen: unknown[] = []
      const spy = encrypted.json({
        maxBytes: 200,
        check: (v): v is unknown => seen.push(v) > 0,
      })
      const input = { a: [1] }
      spy.encode(input, F)
      expect(seen[0]).to.deep.equal(input)
      expect(seen[0]).not.to.equal(input)
    })

    it('refuses a value failing its schema with "does not match its schema" only', () => {
      const allergy = encrypted.json({ maxBytes: 200, check: isAllergy })
      expectValidation(
        () => allergy.encode({ substance: 'PHI', severity: 'fatal' }, F),
        F,
        /^"field" does not match its schema$/,
      )
      const throwing = encrypted.json({
        maxBytes: 200,
        check: (v): v is never => {
          throw new Error(`expected a dose, got ${JSON.stringify(v)}`)
        },
      })
      expectValidation(
        () => throwing.encode({ name: 'PHI' }, F),
        F,
        /^"field" does not match its schema$/,
      )
      const safeParseLike = encrypted.json({
        maxBytes: 200,
        check: ((v: unknown) => ({ success: false, v })) as never,
      })
      expectValidation(() => safeParseLike.encode(1, F), F, /does not match its schema/)
    })

    it('refuses a check that is not a function at declaration', () => {
      expectValidation(
        () => encrypted.json({ maxBytes: 10, check: 'isAllergy' as never }),
        'encrypted.json.check',
        /must be a function/,
      )
    })

    it('decodes bytes that are not JSON as an IntegrityError without quoting them', () => {
      expectIntegrity(() => doc.decode(Buffer.from('{"name":"PHI"')), ['PHI'])
      expectIntegrity(() => doc.decode(Buffer.from([0x22, 0xff, 0x22])))
    })
  })

  describe('bytes', () => {
    const b = encrypted.bytes({ maxBytes: 4096 })

    it('round-trips the naughty strings as raw bytes, and the empty value', () => {
      for (const bytes of [...BLNS_BYTES, Buffer.alloc(0), Buffer.from([0, 255, 0])]) {
        const back = roundTrip(b, bytes)
        expect(Buffer.isBuffer(back)).to.equal(true)
        expect(back.equals(bytes)).to.equal(true)
      }
    })

    it('takes a Uint8Array and copies on the way in and out', () => {
      const input = new Uint8Array([1, 2, 3])
      const sealed = b.encode(input, F)
      input[0] = 9
      expect([...sealed]).to.deep.equal([1, 2, 3])
      const out = b.decode(sealed)
      sealed.fill(0)
      expect([...out]).to.deep.equal([1, 2, 3])
    })

    it('refuses other types and more than maxBytes', () => {
      for (const v of ['PHI', [1, 2], new Uint16Array(2), new ArrayBuffer(2), null]) {
        expectValidation(() => b.encode(v, F), F, /must be a Buffer or Uint8Array/, [
          'PHI',
        ])
      }
      const small = encrypted.bytes({ maxBytes: 2 })
      expectValidation(
        () => small.encode(Buffer.from('PHI'), F),
        F,
        /at most 2 bytes, got 3/,
      )
    })
  })
})
