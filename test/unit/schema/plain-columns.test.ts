import { expect } from '../../support/chai.js'
import { readVectorJson } from '../../support/vectors.js'
import { plain } from '../../../src/schema/plain-columns.js'
import { expectIntegrity, expectValidation } from './column-checks.js'

const BLNS = readVectorJson<string[]>('blns/blns.json')
const F = 'field'

describe('plain columns', () => {
  it('makes frozen plain columns, not nullable unless asked', () => {
    const all = {
      text: plain.text({ maxLength: 10 }),
      integer: plain.integer(),
      boolean: plain.boolean(),
      dateTime: plain.dateTime(),
      rowId: plain.rowId(),
      enum: plain.enum(['a']),
    }
    for (const [type, c] of Object.entries(all)) {
      expect(c.kind, type).to.equal('plain')
      expect(c.type, type).to.equal(type)
      expect(c.nullable, type).to.equal(false)
      expect(Object.isFrozen(c), type).to.equal(true)
    }
    expect(plain.rowId({ nullable: true, column: 'prescriber_id' })).to.include({
      nullable: true,
      column: 'prescriber_id',
    })
    expectValidation(
      () => plain.boolean({ nullable: 1 as never }),
      'plain.boolean.nullable',
      /true or false/,
    )
  })

  describe('text', () => {
    it('counts characters as code points and keeps every naughty string as is', () => {
      const t = plain.text({ maxLength: 2000 })
      expect(t.maxLength).to.equal(2000)
      for (const s of BLNS) {
        expect(t.fromDriver(t.toDriver(s, F))).to.equal(s)
      }
      const two = plain.text({ maxLength: 2 })
      expect(two.toDriver('😀😀', F)).to.equal('😀😀')
      expectValidation(() => two.toDriver('😀PHI', F), F, /at most 2 characters, got 4/, [
        'PHI',
      ])
    })

    it('refuses what is not a well-formed string, and a bad maxLength', () => {
      const t = plain.text({ maxLength: 10 })
      for (const v of [1, null, Buffer.from('x')]) {
        expectValidation(() => t.toDriver(v, F), F, /must be a string/)
      }
      expectValidation(() => t.toDriver('PHI\uD800', F), F, /valid Unicode/, ['PHI'])
      for (const maxLength of [0, 16384, 1.5, undefined]) {
        expectValidation(
          () => plain.text({ maxLength } as never),
          'plain.text.maxLength',
          /from 1 to 16383/,
        )
      }
      expectIntegrity(() => t.fromDriver(5))
    })
  })

  describe('integer', () => {
    const n = plain.integer()

    it('binds safe integers and reads BIGINT back from the string mysql2 returns', () => {
      for (const v of [0, 1, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
        expect(n.toDriver(v, F)).to.equal(v)
        expect(n.fromDriver(String(v))).to.equal(v)
        expect(n.fromDriver(v)).to.equal(v)
        expect(n.fromDriver(BigInt(v))).to.equal(v)
      }
      expect(Object.is(n.toDriver(-0, F), 0)).to.equal(true)
    })

    it('refuses unsafe, fractional and non-number values, and checks min/max', () => {
      for (const v of ['1', 1n, null]) {
        expectValidation(() => n.toDriver(v, F), F, /must be a number/)
      }
      expectValidation(() => n.toDriver(0.5, F), F, /whole number/)
      expectValidation(() => n.toDriver(2 ** 53, F), F, /safe integer/)
      const dose = plain.integer({ min: 1, max: 10 })
      expectValidation(() => dose.toDriver(0, F), F, /at least 1/)
      expectValidation(() => dose.toDriver(11, F), F, /at most 10/)
      expectValidation(
        () => plain.integer({ min: 1, max: 0 }),
        'plain.integer',
        /min greater than max/,
      )
      for (const v of ['9007199254740992', '01', '1.0', 'x', 2n ** 60n, null]) {
        expectIntegrity(() => n.fromDriver(v))
      }
    })
  })

  describe('boolean', () => {
    const b = plain.boolean()

    it('binds booleans and reads back 0/1 and true/false', () => {
      expect(b.toDriver(true, F)).to.equal(true)
      expect(b.toDriver(false, F)).to.equal(false)
      expect(b.fromDriver(1)).to.equal(true)
      expect(b.fromDriver(0)).to.equal(false)
      expect(b.fromDriver(true)).to.equal(true)
      expect(b.fromDriver(false)).to.equal(false)
      for (const v of [1, 'true', null]) {
        expectValidation(() => b.toDriver(v, F), F, /true or false/)
      }
      for (const v of [2, -1, '1', null]) expectIntegrity(() => b.fromDriver(v))
    })
  })

  describe('dateTime', () => {
    const dt = plain.dateTime()

    it('binds a copy of a valid Date in the years 1000 to 9999', () => {
      for (const iso of ['1000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
        const d = new Date(iso)
        const bound = dt.toDriver(d, F) as Date
        expect(bound.getTime()).to.equal(d.getTime())
        expect(bound).not.to.equal(d)
      }
      expectValidation(() => dt.toDriver('2024-01-01', F), F, /must be a Date$/)
      expectValidation(() => dt.toDriver(new Date(NaN), F), F, /Invalid Date/)
      for (const iso of ['0999-12-31T23:59:59.999Z', '0050-01-01T00:00:00.000Z']) {
        expectValidation(() => dt.toDriver(new Date(iso), F), F, /years 1000 to 9999/)
      }
    })

    it('reads a Date (or a DATETIME string, as UTC) back as a new Date', () => {
      const d = new Date('2024-02-29T12:34:56.789Z')
      const back = dt.fromDriver(d)
      expect(back.getTime()).to.equal(d.getTime())
      expect(back).not.to.equal(d)
      expect(dt.fromDriver('2024-02-29 12:34:56.789').getTime()).to.equal(d.getTime())
      expect(dt.fromDriver('2024-02-29 12:34:56').toISOString()).to.equal(
        '2024-02-29T12:34:56.000Z',
      )
      for (const v of [new Date(NaN), '2024-02-29', 1, null]) {
        expectIntegrity(() => dt.fromDriver(v))
      }
    })
  })

  describe('rowId', () => {
    const id = plain.rowId()

    it('binds the 16 bytes of a UUID and reads it back in lower case', () => {
      const s = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
      const bound = id.toDriver(s, F) as Buffer
      expect(bound.toString('hex')).to.equal(s.replaceAll('-', ''))
      expect(id.fromDriver(bound)).to.equal(s)
      expect(id.fromDriver(id.toDriver(s.toUpperCase(), F))).to.equal(s)
      for (const v of ["1' OR '1'='1", 'not-a-uuid', 42, Buffer.alloc(16)]) {
        expectValidation(() => id.toDriver(v, F), F, /must be a UUID string/, ["1' OR"])
      }
      for (const v of [Buffer.alloc(15), s, null]) expectIntegrity(() => id.fromDriver(v))
    })
  })

  describe('enum', () => {
    it('accepts only its values, both ways', () => {
      const status = plain.enum(['active', 'stopped'])
      expect(status.values).to.deep.equal(['active', 'stopped'])
      expect(Object.isFrozen(status.values)).to.equal(true)
      expect(status.toDriver('active', F)).to.equal('active')
      expect(status.fromDriver('stopped')).to.equal('stopped')
      for (const v of ['Active', 'paused', '', 1, null]) {
        expectValidation(
          () => status.toDriver(v, F),
          F,
          /^"field" must be one of active, stopped$/,
        )
      }
      expectIntegrity(() => status.fromDriver('paused'))
    })

    it('keeps its own copy of the values', () => {
      const values: [string, ...string[]] = ['a', 'b']
      const c = plain.enum(values)
      values[0] = 'z'
      expect(c.toDriver('a', F)).to.equal('a')
    })

    it('refuses empty, duplicate, blank or over-long values at declaration', () => {
      for (const values of [
        [],
        'active',
        ['a', ''],
        ['a', 1],
        ['x'.repeat(65)],
        ['\uD800'],
      ]) {
        expectValidation(
          () => plain.enum(values as never),
          'plain.enum',
          /values|non-empty/,
        )
      }
      expect(plain.enum(['😀'.repeat(64)]).values).to.have.length(1)
      expectValidation(() => plain.enum(['a', 'b', 'a']), 'plain.enum', /listed twice/)
    })
  })
})
