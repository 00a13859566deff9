// Index declarations (src/schema/search-indexes.ts, through defineTable as an
// application uses them): the column each index gets, and the declarations
// refused with a ValidationError naming the index and the reason.
import { expect } from '../../support/chai.js'
import { PATIENTS } from '../../../src/schema/chart-tables.js'
import { defineTable } from '../../../src/schema/define-table.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import { normalise } from '../../../src/schema/normalisers.js'
import { plain } from '../../../src/schema/plain-columns.js'
import { searchIndex, type IndexSpec } from '../../../src/schema/search-indexes.js'
import { expectValidation } from '../schema/column-checks.js'

const ENCRYPTED = {
  code: encrypted.text({ maxBytes: 40 }),
  clinic: encrypted.text({ maxBytes: 80, nullable: true }),
  referredOn: encrypted.date(),
  priority: encrypted.integer(),
  dose: encrypted.decimal({ precision: 8, scale: 3 }),
  urgent: encrypted.boolean(),
  extra: encrypted.json({
    maxBytes: 200,
    check: (v): v is object => typeof v === 'object',
  }),
  scan: encrypted.bytes({ maxBytes: 200 }),
  seenAt: encrypted.dateTime(),
}

/** A referrals table with `indexes` (typed loosely: some are meant to be refused). */
const withIndexes = (indexes: Record<string, unknown>, extra: object = {}) =>
  defineTable({
    name: 'referrals',
    encrypted: ENCRYPTED,
    plain: { status: plain.enum(['open', 'closed']) },
    indexes: indexes as Record<string, IndexSpec>,
    ...extra,
  })

const exactOnCode = searchIndex.exact({ fields: { code: [normalise.lettersAndDigits] } })

describe('search index declarations', () => {
  it("resolve the patients table's four indexes to the columns of migration 0007", () => {
    expect(
      PATIENTS.indexes.map((i) => [i.name, i.kind, i.column, i.unique, i.bits]),
    ).to.deep.equal([
      ['byNationalId', 'exact', 'bidx_by_national_id', true, 128],
      ['byName', 'exact', 'bidx_by_name', false, 128],
      ['byBirthAndInitial', 'coarse', 'bidx_by_birth_and_initial', false, 16],
      ['bySurnameSoundAndYear', 'coarse', 'bidx_by_surname_sound_and_year', false, 16],
    ])
    expect(
      PATIENTS.indexes.map((i) =>
        i.fields.map((f) => `${f.name}/${f.column}/${f.steps.map((s) => s.name)}`),
      ),
    ).to.deep.equal([
      ['nationalId/national_id_enc/letters-and-digits,casefold'],
      ['fullName/full_name_enc/casefold,whitespace'],
      [
        'dateOfBirth/date_of_birth_enc/',
        'fullName/full_name_enc/casefold,last-word,prefix-1',
      ],
      [
        'fullName/full_name_enc/last-word,double-metaphone',
        'dateOfBirth/date_of_birth_enc/year',
      ],
    ])
    expect(PATIENTS.indexes.every((i) => Object.isFrozen(i))).to.equal(true)
  })

  it('name the column bidx_<snake_case of the index name>', () => {
    const t = withIndexes({
      byCode: exactOnCode,
      a: exactOnCode,
      byCodeAndClinic2: searchIndex.exact({ fields: { code: [], clinic: [] } }),
    })
    expect(t.indexes.map((i) => i.column)).to.deep.equal([
      'bidx_by_code',
      'bidx_a',
      'bidx_by_code_and_clinic2',
    ])
    expect(withIndexes({}).indexes).to.deep.equal([])
    expect(
      defineTable({ name: 'plain_one', encrypted: ENCRYPTED }).indexes,
    ).to.deep.equal([])
  })

  it('take text, date and integer fields, and copy the normaliser list', () => {
    const steps = [normalise.casefold]
    const t = withIndexes({
      byCode: searchIndex.exact({ fields: { code: steps } }),
      byReferredOn: searchIndex.exact({ fields: { referredOn: [normalise.year] } }),
      byPriority: searchIndex.exact({ fields: { priority: [] } }),
    })
    expect(t.indexes.map((i) => i.fields[0]!.type)).to.deep.equal([
      'text',
      'date',
      'integer',
    ])
    expect(t.indexes[0]!.fields[0]!.steps).to.deep.equal(steps)
    expect(t.indexes[0]!.fields[0]!.steps).not.to.equal(steps)
  })

  describe('unique', () => {
    it('is false unless an exact index says unique: true', () => {
      const t = withIndexes({
        byCode: exactOnCode,
        byCodeUnique: searchIndex.exact({ ...exactOnCode, unique: true }),
        byCodeNotUnique: searchIndex.exact({ ...exactOnCode, unique: false }),
      })
      expect(t.indexes.map((i) => i.unique)).to.deep.equal([false, true, false])
    })

    it('must be a boolean', () => {
      expectValidation(
        () => withIndexes({ byCode: { ...exactOnCode, unique: 'yes' } }),
        'indexes.byCode.unique',
        /must be a boolean/,
      )
    })

    it('is refused on a coarse index, whose values collide on purpose', () => {
      const coarse = searchIndex.coarse({
        fields: { code: [], referredOn: [] },
        bits: 12,
        estimate: { distinct: 1_000_000 },
      })
      expect(withIndexes({ byCodeAndDate: coarse }).indexes[0]!.unique).to.equal(false)
      for (const unique of [true, false]) {
        expectValidation(
          () => withIndexes({ byCodeAndDate: { ...coarse, unique } }),
          'indexes.byCodeAndDate.unique',
          /only for an exact index/,
        )
      }
    })
  })

  describe('refusals', () => {
    it('an unknown field, or a plain one', () => {
      expectValidation(
        () => withIndexes({ byNope: searchIndex.exact({ fields: { nope: [] } }) }),
        'indexes.byNope.fields.nope',
        /is not an encrypted field of the table/,
      )
      expectValidation(
        () => withIndexes({ byStatus: searchIndex.exact({ fields: { status: [] } }) }),
        'indexes.byStatus.fields.status',
        /is not an encrypted field of the table/,
      )
    })

    it('a field still converting from a plaintext column', () => {
      expectValidation(
        () =>
          withIndexes(
            { byCode: exactOnCode },
            { convertingFrom: { code: 'code_plain' } },
          ),
        'indexes.byCode.fields.code',
        /is still converting from a plaintext column; declare the index once the conversion is done/,
      )
      // Another field converting does not matter.
      expect(() =>
        withIndexes(
          { byCode: exactOnCode },
          { convertingFrom: { clinic: 'clinic_plain' } },
        ),
      ).not.to.throw()
    })

    it('a field of a type with no single text form (decimal, boolean, json, bytes, dateTime)', () => {
      for (const field of ['dose', 'urgent', 'extra', 'scan', 'seenAt']) {
        expectValidation(
          () => withIndexes({ byIt: searchIndex.exact({ fields: { [field]: [] } }) }),
          `indexes.byIt.fields.${field}`,
          /field; only text, date and integer fields can be indexed/,
        )
      }
    })

    it('normalisers that are not normalisers, and no fields', () => {
      for (const steps of [
        'casefold',
        [normalise.casefold, 'x'],
        [{ name: 'x' }],
        null,
      ]) {
        expectValidation(
          () => withIndexes({ byCode: { kind: 'exact', fields: { code: steps } } }),
          'indexes.byCode.fields.code',
          /must be a list of normalisers/,
        )
      }
      expectValidation(
        () => withIndexes({ byCode: searchIndex.exact({ fields: {} }) }),
        'indexes.byCode.fields',
        /must name at least one field/,
      )
      for (const fields of [undefined, null, [], 'code']) {
        expectValidation(
          () => withIndexes({ byCode: { kind: 'exact', fields } }),
          'indexes.byCode.fields',
          /must be an object: field name → normalisers/,
        )
      }
    })

    it('a spec not made by searchIndex.exact() or .coarse()', () => {
      for (const spec of [null, 'exact', {}, { kind: 'range', fields: { code: [] } }]) {
        expectValidation(
          () => withIndexes({ byCode: spec }),
          'indexes.byCode',
          /must be made by searchIndex\.exact\(\) or searchIndex\.coarse\(\)/,
        )
      }
      expectValidation(
        () => withIndexes([exactOnCode] as never),
        'indexes',
        /must be an object of search indexes/,
      )
    })

    it('an index name that is not camelCase of at most 56 characters', () => {
      for (const name of ['ByCode', 'by_code', '1st', 'by-code', 'a'.repeat(57)]) {
        expectValidation(
          () => withIndexes({ [name]: exactOnCode }),
          `indexes.${name}`,
          /must be a camelCase index name of at most 56 characters/,
        )
      }
      expect(() => withIndexes({ ['a'.repeat(56)]: exactOnCode })).not.to.throw()
    })

    it('a name whose column would be longer than MySQL allows (64), capitals counted as _x', () => {
      // 56 characters, 27 of them capitals: bidx_ + 83 = 88 characters.
      const long = 'b' + 'yX'.repeat(27) + 'z'
      expect(long).to.have.length(56)
      expectValidation(
        () => withIndexes({ [long]: exactOnCode }),
        `indexes.${long}`,
        /needs column bidx_by_xy_xy.* longer than 64 characters \(MySQL's limit\)/,
      )
      // bidx_ + 59 = 64 is the most: 56 characters with 3 capitals fit, with 4 do not.
      const fits = 'a'.repeat(53) + 'BCD'
      expect(withIndexes({ [fits]: exactOnCode }).indexes[0]!.column).to.have.length(64)
      const over = 'a'.repeat(52) + 'BCDE'
      expectValidation(
        () => withIndexes({ [over]: exactOnCode }),
        `indexes.${over}`,
        /longer than 64 characters/,
      )
    })

    it('a column the table already uses', () => {
      expectValidation(
        () =>
          defineTable({
            name: 'referrals',
            encrypted: { code: encrypted.text({ maxBytes: 40 }) },
            plain: { bidxByCode: plain.text({ maxLength: 10 }) },
            indexes: { byCode: exactOnCode },
          }),
        'indexes.byCode',
        /needs column bidx_by_code, which the table already uses/,
      )
    })

    it('coarse bits that are not an integer from 1 to 32', () => {
      for (const bits of [0, 33, 1.5, '16', undefined]) {
        expectValidation(
          () =>
            withIndexes({
              byCodeAndDate: {
                kind: 'coarse',
                fields: { code: [], referredOn: [] },
                bits,
                estimate: { distinct: 1_000_000 },
              },
            }),
          'indexes.byCodeAndDate.bits',
          /must be an integer from 1 to 32/,
        )
      }
    })
  })
})
