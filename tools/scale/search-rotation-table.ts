import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { normalise } from '../../src/schema/normalisers.js'
import { searchIndex } from '../../src/schema/search-indexes.js'

/**
 * The scale run's declared table and its synthetic values, shared by the run
 * (tools/scale/search-rotation.ts) and its rebuild child, which must register
 * the very same declaration or its index keys would differ.
 */

export const SPECIMENS_TABLE = 'scale_rotation_specimens'

/** Distinct panels: each is held by about rows / PANELS rows, the coarse index's true matches. */
export const PANELS = 20_000

const fields = {
  accession: encrypted.text({ maxBytes: 40, nullable: true }),
  panel: encrypted.text({ maxBytes: 40, nullable: true }),
}

/**
 * While the plaintext columns are converted: an indexed field may not be
 * converting (docs/search.md), so this one declares no index.
 */
export const CONVERTING = defineTable({
  name: SPECIMENS_TABLE,
  encrypted: fields,
  convertingFrom: { accession: 'accession_plain', panel: 'panel_plain' },
})

/** Once converted: a unique exact index and a coarse one, as an application would add them. */
export const SPECIMENS = defineTable({
  name: SPECIMENS_TABLE,
  encrypted: fields,
  indexes: {
    byAccession: searchIndex.exact({
      fields: { accession: [normalise.lettersAndDigits, normalise.casefold] },
      unique: true,
    }),
    // 11 bits over 20,000 panels: about 10 panels and 48 rows per value at 99,000 rows,
    // inside the planner's limits (8 to 13 bits for D, at least 9 for R).
    byPanel: searchIndex.coarse({
      fields: { panel: [normalise.casefold] },
      bits: 11,
      estimate: { distinct: PANELS, rows: 100_000 },
    }),
  },
})

export function accessionOf(patient: number, row: number): string {
  return `ACC-${String(patient).padStart(6, '0')}-${String(row).padStart(4, '0')}`
}

export function panelOf(patient: number, row: number, rowsPerPatient: number): string {
  return `Panel ${String((patient * rowsPerPatient + row) % PANELS).padStart(5, '0')}`
}

const GIVEN = ['Amira', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hugo']
const SYLLABLES = ['ka', 'mo', 'ren', 'li', 'vos', 'tan', 'bel', 'dor', 'shi', 'ul']
const INITIALS = 'BDFGKLMNPRSTVZ'

/** A surname per patient number, so that byName (not unique) still holds one patient per value. */
function surnameOf(i: number): string {
  let s = INITIALS[i % INITIALS.length]!
  let n = Math.floor(i / INITIALS.length)
  do {
    s += SYLLABLES[n % SYLLABLES.length]
    n = Math.floor(n / SYLLABLES.length)
  } while (n > 0)
  return s
}

// A type, not an interface: indexColumnValues takes it as a record of values.
export type ScalePatient = {
  readonly fullName: string
  readonly dateOfBirth: string
  readonly nationalId: string
}

export function patientOf(i: number): ScalePatient {
  const day = (i * 7919) % 36_525
  return {
    fullName: `${GIVEN[i % GIVEN.length]} ${surnameOf(i)}`,
    dateOfBirth: new Date(Date.UTC(1925, 0, 1) + day * 86_400_000)
      .toISOString()
      .slice(0, 10),
    nationalId: `SR ${String(i).padStart(7, '0')}`,
  }
}
