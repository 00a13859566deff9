// The normalisers of search indexes (src/schema/normalisers.ts): what each makes
// of a value, as its comment claims, and that a search value which normalises to
// nothing is refused (issue 12, "Bad input": empty, only punctuation).
//
// Double Metaphone codes come from two published sources, not from running the
// package: Lawrence Philips, "The Double Metaphone Search Algorithm", C/C++ Users
// Journal, June 2000 (Smith → SM0/XMT, Schmidt → XMT/SMT, reproduced in the
// GBBopen reference, gbbopen.org/hyperdoc/ref-double-metaphone.html), and the
// test vectors of the package we call, words/double-metaphone test/api.js.
import { doubleMetaphone } from 'double-metaphone'
import { expect } from '../../support/chai.js'
import { defineTable } from '../../../src/schema/define-table.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import { searchValueOf } from '../../../src/schema/index-values.js'
import { applyNormalisers, normalise } from '../../../src/schema/normalisers.js'
import { searchIndex } from '../../../src/schema/search-indexes.js'
import { expectValidation } from '../schema/column-checks.js'

const { nfkc, casefold, whitespace, lettersAndDigits, digits, lastWord, year, phonetic } =
  normalise

describe('search normalisers', () => {
  it('have the stable names that the index keys are derived from', () => {
    expect(
      [
        nfkc,
        casefold,
        whitespace,
        lettersAndDigits,
        digits,
        lastWord,
        year,
        phonetic,
      ].map((n) => n.name),
    ).to.deep.equal([
      'nfkc',
      'casefold',
      'whitespace',
      'letters-and-digits',
      'digits',
      'last-word',
      'year',
      'double-metaphone',
    ])
    expect(normalise.prefix(3).name).to.equal('prefix-3')
    expect(Object.isFrozen(normalise)).to.equal(true)
    expect(Object.isFrozen(casefold)).to.equal(true)
  })

  describe('nfkc', () => {
    it('folds compatibility forms: full-width letters and digits, the ﬁ ligature, ℌ, ①', () => {
      expect(nfkc.apply('Ｈｅｌｌｏ　１２３')).to.equal('Hello 123')
      expect(nfkc.apply('\ufb01le')).to.equal('file') // U+FB01 LATIN SMALL LIGATURE FI
      expect(nfkc.apply('ℌ')).to.equal('H')
      expect(nfkc.apply('①')).to.equal('1')
    })

    it('composes: e + U+0301 COMBINING ACUTE is é (U+00E9)', () => {
      expect(nfkc.apply('Jose\u0301')).to.equal('Jos\u00e9')
      expect(nfkc.apply('e\u0301')).to.equal('\u00e9')
    })

    it('keeps case and white space', () => {
      expect(nfkc.apply(' Ab  C ')).to.equal(' Ab  C ')
    })
  })

  describe('casefold', () => {
    it('lower-cases after NFKC, so full-width capitals and ligatures fold too', () => {
      expect(casefold.apply('O’BRIEN')).to.equal('o’brien')
      expect(casefold.apply('ＡＢＣ')).to.equal('abc')
      expect(casefold.apply('\ufb01LE')).to.equal('file')
      expect(casefold.apply('ǄEMAL')).to.equal('džemal') // NFKC splits the digraph U+01C4
    })

    it('maps ß to itself, not to "ss", as its comment says: Straße and STRASSE stay two values', () => {
      expect(casefold.apply('Straße')).to.equal('straße')
      expect(casefold.apply('STRASSE')).to.equal('strasse')
      expect(casefold.apply('STRAẞE')).to.equal('straße') // U+1E9E capital sharp s
    })

    it('is locale-independent for the Turkish I: İ gives i + U+0307, ı stays ı, I gives i', () => {
      // The code makes no Turkish claim; this is toLowerCase's (and CaseFolding.txt's
      // full, non-Turkic) mapping, pinned so that a change shows.
      expect([...casefold.apply('İ')].map((c) => c.codePointAt(0))).to.deep.equal([
        0x69, 0x307,
      ])
      expect(casefold.apply('ı')).to.equal('ı')
      expect(casefold.apply('I')).to.equal('i')
      expect(casefold.apply('İ')).not.to.equal(casefold.apply('I'))
    })
  })

  describe('whitespace', () => {
    it('trims and makes every run of white space (tab, newline, NBSP, ideographic space) one space', () => {
      expect(whitespace.apply(' \t María \n\u00a0 José\u3000Fernández  ')).to.equal(
        'María José Fernández',
      )
      expect(whitespace.apply('   ')).to.equal('')
    })
  })

  describe('lettersAndDigits and digits, for identifiers', () => {
    it('lettersAndDigits keeps letters and digits of any script, drops spaces, dashes, dots', () => {
      expect(lettersAndDigits.apply('NHS 943-476.5919')).to.equal('NHS9434765919')
      expect(lettersAndDigits.apply('ＮＨＳ ９４３')).to.equal('NHS943') // NFKC first
      expect(lettersAndDigits.apply('Ölçek-٣')).to.equal('Ölçek٣')
      expect(lettersAndDigits.apply("--'.")).to.equal('')
    })

    it('digits keeps ASCII digits only, full-width ones once NFKC has made them ASCII', () => {
      expect(digits.apply('+44 (0)20-7946 0958')).to.equal('4402079460958')
      expect(digits.apply('９４３ 476')).to.equal('943476')
      expect(digits.apply('MRN-')).to.equal('')
    })
  })

  describe('lastWord and year', () => {
    it('lastWord is the last word of a trimmed value, empty for an empty one', () => {
      expect(lastWord.apply('  María José  Fernández ')).to.equal('Fernández')
      expect(lastWord.apply('Fernández')).to.equal('Fernández')
      expect(lastWord.apply('')).to.equal('')
      expect(lastWord.apply('   ')).to.equal('')
    })

    it('year is the YYYY of a YYYY-MM-DD date, empty otherwise', () => {
      expect(year.apply('1958-03-14')).to.equal('1958')
      expect(year.apply('1958-03-14T10:30:00')).to.equal('1958')
      expect(year.apply('58-03-14')).to.equal('')
      expect(year.apply('14/03/1958')).to.equal('')
    })
  })

  describe('prefix(n)', () => {
    it('counts code points, not UTF-16 units: an emoji or an astral letter is one character', () => {
      expect(normalise.prefix(1).apply('😀x')).to.equal('😀') // U+1F600, two UTF-16 units
      expect(normalise.prefix(2).apply('𝔸bc')).to.equal('𝔸b') // U+1D538
      expect(normalise.prefix(1).apply('😀x')).to.have.length(2) // both surrogates kept
      expect(normalise.prefix(3).apply('ab')).to.equal('ab')
      expect(normalise.prefix(1).apply('')).to.equal('')
    })

    it('takes an integer length from 1 to 64', () => {
      expect(normalise.prefix(64).name).to.equal('prefix-64')
      for (const n of [0, 65, 1.5, Number.NaN]) {
        expect(() => normalise.prefix(n), String(n)).to.throw(
          RangeError,
          'prefix length must be an integer from 1 to 64',
        )
      }
    })
  })

  describe('phonetic (Double Metaphone, primary code)', () => {
    it('Smith → SM0 and Schmidt → XMT, with the secondary codes that link them (Philips 2000)', () => {
      expect(doubleMetaphone('Smith')).to.deep.equal(['SM0', 'XMT'])
      expect(doubleMetaphone('Schmidt')).to.deep.equal(['XMT', 'SMT'])
      // The index keeps the primary code only: Smith and Smyth meet, Schmidt does not.
      expect(phonetic.apply('Smith')).to.equal('SM0')
      expect(phonetic.apply('Smyth')).to.equal('SM0')
      expect(phonetic.apply('Schmidt')).to.equal('XMT')
    })

    it("gives the package's own test vectors (words/double-metaphone test/api.js)", () => {
      const vectors: [string, string][] = [
        ['Xavier', 'SF'],
        ['Mazurkiewicz', 'MSRKTS'],
        ['Filipowicz', 'FLPTS'],
        ['Tsjaikowski', 'TSKSK'],
        ['cabrillo', 'KPRL'],
        ['thumb', '0M'],
        ['thom', 'TM'], // TH before OM or AM is T: the start of Thompson, Thomas
        ['tham', 'TM'],
        ['laugh', 'LF'],
        ['broughton', 'PRTN'],
      ]
      for (const [name, code] of vectors)
        expect(phonetic.apply(name), name).to.equal(code)
    })

    it('codes Thompson with T, not the TH sound 0, and ignores case and apostrophes', () => {
      expect(phonetic.apply('Thompson').startsWith('TM')).to.equal(true)
      expect(phonetic.apply('THOMPSON')).to.equal(phonetic.apply('thompson'))
      expect(phonetic.apply("O'Brien")).to.equal(phonetic.apply('OBrien'))
    })

    it('gives the empty string for a value with no letters', () => {
      expect(phonetic.apply('')).to.equal('')
      expect(phonetic.apply('!!!')).to.equal('')
    })
  })

  it('applyNormalisers applies the steps in order, and [] leaves the value as it is', () => {
    expect(applyNormalisers('  María  FERNÁNDEZ ', [casefold, lastWord])).to.equal(
      'fernández',
    )
    expect(
      applyNormalisers('  María  FERNÁNDEZ ', [casefold, lastWord, normalise.prefix(1)]),
    ).to.equal('f')
    // Order matters: prefix first keeps the leading space, which lastWord then trims away.
    expect(applyNormalisers(' Ab', [normalise.prefix(1), lastWord])).to.equal('')
    expect(applyNormalisers(' As Is ', [])).to.equal(' As Is ')
  })
})

describe('search values that normalise to nothing', () => {
  const cards = defineTable({
    name: 'cards',
    encrypted: {
      holder: encrypted.text({ maxBytes: 80 }),
      number: encrypted.text({ maxBytes: 40 }),
    },
    indexes: {
      byNumber: searchIndex.exact({ fields: { number: [normalise.lettersAndDigits] } }),
      byHolderSound: searchIndex.exact({
        fields: { holder: [normalise.lastWord, normalise.phonetic] },
      }),
    },
  })
  const [byNumber, byHolderSound] = cards.indexes as [
    (typeof cards.indexes)[number],
    (typeof cards.indexes)[number],
  ]
  const key = Buffer.alloc(32, 7)

  it('are refused with a ValidationError (code VALIDATION) naming the field and the steps, not the value', () => {
    for (const value of ['', '   ', '-- . --', "'!?'"]) {
      expectValidation(
        () => searchValueOf(byNumber, key, { number: value }),
        'number',
        /is empty once normalised for index byNumber \(letters-and-digits\)/,
        value.trim() === '' ? [] : [value],
      )
    }
    expectValidation(
      () => searchValueOf(byHolderSound, key, { holder: '¿¡…!?' }),
      'holder',
      /is empty once normalised for index byHolderSound \(last-word, double-metaphone\)/,
      ['¿¡…!?'],
    )
  })

  it('a value that normalises to something is looked up', () => {
    expect(searchValueOf(byNumber, key, { number: ' 12-34 ' })).to.have.length(16)
  })
})
