// Index values of rows and of searches (src/schema/index-values.ts), on the
// patients table's own four indexes: what a write stores (NULL when a field is
// NULL, missing or normalises to nothing), and that a search typed another way
// but equal under the normalisers looks up exactly the stored value.
import { expect } from '../../support/chai.js'
import {
  coarseIndexValue,
  deriveIndexKey,
  exactIndexValue,
} from '../../../src/crypto/blind-index.js'
import { PATIENTS } from '../../../src/schema/chart-tables.js'
import { defineTable } from '../../../src/schema/define-table.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import {
  deriveTableIndexKeys,
  indexColumnValues,
  searchValueOf,
} from '../../../src/schema/index-values.js'
import { normalise } from '../../../src/schema/normalisers.js'
import { searchIndex, type DeclaredIndex } from '../../../src/schema/search-indexes.js'
import { expectValidation } from '../schema/column-checks.js'

const searchKey = Buffer.alloc(32, 0x5a)
const keys = deriveTableIndexKeys(searchKey, PATIENTS)
const index = (name: string): DeclaredIndex => {
  const found = PATIENTS.indexes.find((i) => i.name === name)
  if (!found) throw new Error(`no index ${name}`)
  return found
}
const keyOf = (name: string): Buffer => keys.get(name)!
const search = (name: string, query: Record<string, unknown>) =>
  searchValueOf(index(name), keyOf(name), query)
const hex = (value: Buffer | number | null | undefined) =>
  Buffer.isBuffer(value) ? value.toString('hex') : value

const maria = {
  fullName: 'María José Fernández',
  dateOfBirth: '1958-03-14',
  sex: 'female',
  nationalId: 'NHS 943 476 5919',
}

describe('search index values: keys', () => {
  it('deriveTableIndexKeys gives one key per index, the one deriveIndexKey gives for its context', () => {
    expect([...keys.keys()]).to.deep.equal([
      'byNationalId',
      'byName',
      'byBirthAndInitial',
      'bySurnameSoundAndYear',
    ])
    const expected = deriveIndexKey(searchKey, {
      table: 'patients',
      index: 'byBirthAndInitial',
      kind: 'coarse',
      bits: 16,
      fields: [
        { column: 'date_of_birth_enc', steps: [] },
        { column: 'full_name_enc', steps: ['casefold', 'last-word', 'prefix-1'] },
      ],
    })
    expect(keyOf('byBirthAndInitial').equals(expected)).to.equal(true)
    expect(new Set([...keys.values()].map((k) => k.toString('hex'))).size).to.equal(4)
  })
})

describe('search index values: indexColumnValues of a row', () => {
  it('computes every index column from the normalised field values', () => {
    const columns = indexColumnValues(PATIENTS.indexes, keys, maria)
    expect(Object.keys(columns)).to.deep.equal([
      'bidx_by_national_id',
      'bidx_by_name',
      'bidx_by_birth_and_initial',
      'bidx_by_surname_sound_and_year',
    ])
    expect(hex(columns.bidx_by_national_id)).to.equal(
      hex(exactIndexValue(keyOf('byNationalId'), ['nhs9434765919'])),
    )
    expect(hex(columns.bidx_by_name)).to.equal(
      hex(exactIndexValue(keyOf('byName'), ['maría josé fernández'])),
    )
    expect(columns.bidx_by_birth_and_initial).to.equal(
      coarseIndexValue(keyOf('byBirthAndInitial'), ['1958-03-14', 'f'], 16),
    )
    // The surname's primary Double Metaphone code and the year of birth.
    expect(columns.bidx_by_surname_sound_and_year).to.equal(
      coarseIndexValue(
        keyOf('bySurnameSoundAndYear'),
        [normalise.phonetic.apply('Fernández'), '1958'],
        16,
      ),
    )
    expect(columns.bidx_by_national_id).to.have.length(16)
    expect(columns.bidx_by_birth_and_initial).to.be.within(0, 2 ** 16 - 1)
  })

  it('sets an index NULL when its field is NULL or left out, and leaves the others', () => {
    for (const nationalId of [null, undefined]) {
      const columns = indexColumnValues(PATIENTS.indexes, keys, { ...maria, nationalId })
      expect(columns.bidx_by_national_id).to.equal(null)
      expect(columns.bidx_by_name).to.be.instanceOf(Buffer)
      expect(columns.bidx_by_birth_and_initial).to.be.a('number')
    }
  })

  it('sets an index NULL when its field normalises to nothing (a national id of dashes)', () => {
    const columns = indexColumnValues(PATIENTS.indexes, keys, {
      ...maria,
      nationalId: '--',
    })
    expect(columns.bidx_by_national_id).to.equal(null)
  })

  it('needs every field of a multi-field index: without a date of birth both coarse columns are NULL', () => {
    const { dateOfBirth: _omitted, ...noBirth } = maria
    const columns = indexColumnValues(PATIENTS.indexes, keys, noBirth)
    expect(columns.bidx_by_birth_and_initial).to.equal(null)
    expect(columns.bidx_by_surname_sound_and_year).to.equal(null)
    expect(columns.bidx_by_name).to.be.instanceOf(Buffer)
    // A date that has no year for the year normaliser empties only that index.
    const odd = indexColumnValues(PATIENTS.indexes, keys, { ...maria, dateOfBirth: 'x' })
    expect(odd.bidx_by_surname_sound_and_year).to.equal(null)
    expect(odd.bidx_by_birth_and_initial).to.be.a('number')
  })

  it('computes only the indexes it is given (an update of some fields)', () => {
    const columns = indexColumnValues([index('byName')], keys, { fullName: 'A B' })
    expect(Object.keys(columns)).to.deep.equal(['bidx_by_name'])
  })

  it('refuses to compute an index it has no key for', () => {
    expect(() => indexColumnValues(PATIENTS.indexes, new Map(), maria)).to.throw(
      Error,
      'no key for index byNationalId',
    )
  })
})

describe('search index values: searchValueOf', () => {
  const stored = indexColumnValues(PATIENTS.indexes, keys, maria)

  it('a national id typed another way finds the stored value: NHS 943 476 5919 = nhs9434765919', () => {
    for (const nationalId of [
      'nhs9434765919',
      'NHS9434765919',
      ' nhs-943-476-5919 ',
      'N.H.S. 943 476 5919',
      'ＮＨＳ ９４３ ４７６ ５９１９', // full width, folded by NFKC
    ]) {
      expect(hex(search('byNationalId', { nationalId })), nationalId).to.equal(
        hex(stored.bidx_by_national_id),
      )
    }
    expect(hex(search('byNationalId', { nationalId: 'NHS 943 476 5918' }))).not.to.equal(
      hex(stored.bidx_by_national_id),
    )
  })

  it('a full name in another case and spacing finds the stored value; other accents do not', () => {
    for (const fullName of [
      'maría josé fernández',
      '  MARÍA   JOSÉ\tFERNÁNDEZ ',
      'Mari\u0301a Jose\u0301 Ferna\u0301ndez', // decomposed accents, composed by NFKC
    ]) {
      expect(hex(search('byName', { fullName })), fullName).to.equal(
        hex(stored.bidx_by_name),
      )
    }
    // No normaliser drops accents: an exact name index is as exact as that.
    expect(hex(search('byName', { fullName: 'Maria Jose Fernandez' }))).not.to.equal(
      hex(stored.bidx_by_name),
    )
  })

  it('a coarse search by date of birth and surname finds the stored bucket', () => {
    expect(
      search('byBirthAndInitial', { dateOfBirth: '1958-03-14', fullName: 'fernández' }),
    ).to.equal(stored.bidx_by_birth_and_initial)
    expect(
      search('bySurnameSoundAndYear', {
        fullName: 'Fernandes',
        dateOfBirth: '1958-01-01',
      }),
    ).to.equal(stored.bidx_by_surname_sound_and_year)
  })

  it('needs every field of the index, naming the missing one and the type it takes', () => {
    expectValidation(
      () => search('byBirthAndInitial', { fullName: 'Fernández' }),
      'dateOfBirth',
      /is needed by index byBirthAndInitial \(a string\)/,
    )
    for (const dateOfBirth of [null, undefined, new Date(0), { y: 1958 }]) {
      expectValidation(
        () => search('byBirthAndInitial', { fullName: 'Fernández', dateOfBirth }),
        'dateOfBirth',
        /is needed by index byBirthAndInitial/,
      )
    }
  })

  it('refuses a value that normalises to nothing, naming the normalisers but not the value', () => {
    expectValidation(
      () => search('byNationalId', { nationalId: ' - . - ' }),
      'nationalId',
      /^"nationalId" is empty once normalised for index byNationalId \(letters-and-digits, casefold\)$/,
    )
    expectValidation(
      () => search('byBirthAndInitial', { dateOfBirth: '', fullName: 'Fernández' }),
      'dateOfBirth',
      /is empty once normalised for index byBirthAndInitial \(as given\)/,
    )
  })

  it('takes an integer field as a number or a bigint, in decimal', () => {
    const visits = defineTable({
      name: 'visits',
      encrypted: { ward: encrypted.integer() },
      indexes: { byWard: searchIndex.exact({ fields: { ward: [] } }) },
    })
    const byWard = visits.indexes[0]!
    const key = deriveTableIndexKeys(searchKey, visits).get('byWard')!
    const row = indexColumnValues(visits.indexes, new Map([['byWard', key]]), {
      ward: 42,
    })
    expect(hex(searchValueOf(byWard, key, { ward: 42 }))).to.equal(hex(row.bidx_by_ward))
    expect(hex(searchValueOf(byWard, key, { ward: 42n }))).to.equal(hex(row.bidx_by_ward))
    expect(hex(searchValueOf(byWard, key, { ward: '42' }))).to.equal(
      hex(row.bidx_by_ward),
    )
    expectValidation(
      () => searchValueOf(byWard, key, {}),
      'ward',
      /is needed by index byWard \(a number\)/,
    )
  })
})
