import { expect } from '../../support/chai.js'
import {
  defineTable,
  type ChangesOf,
  type NewRowOf,
  type PlainFieldOf,
  type RowOf,
} from '../../../src/schema/define-table.js'
import type { EncryptedColumn, PlainColumn } from '../../../src/schema/column.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import { plain } from '../../../src/schema/plain-columns.js'

/**
 * The row types a declaration infers. This file is checked by the compiler
 * (`npx tsc --noEmit -p .` covers test/): a wrong inference is a type error
 * here, and every `@ts-expect-error` line must stay an error.
 */

/** true only when A and B are the same type (not merely assignable). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function expectType<_T extends true>(): void {}

interface Allergy {
  substance: string
  severity: 'mild' | 'severe'
}
const isAllergy = (v: unknown): v is Allergy => typeof v === 'object' && v !== null

const medications = defineTable({
  name: 'medications',
  encrypted: {
    drug: encrypted.text({ maxBytes: 200 }),
    note: encrypted.text({ maxBytes: 2000, nullable: true }),
    startedOn: encrypted.date(),
    stoppedOn: encrypted.date({ nullable: true }),
    lastTakenAt: encrypted.dateTime({ nullable: false }),
    tablets: encrypted.integer({ min: 0 }),
    doseMg: encrypted.decimal({ precision: 8, scale: 3 }),
    asNeeded: encrypted.boolean(),
    reaction: encrypted.json({ maxBytes: 500, check: isAllergy, nullable: true }),
    scan: encrypted.bytes({ maxBytes: 1000, nullable: true }),
  },
  plain: {
    status: plain.enum(['active', 'stopped']),
    prescribedBy: plain.rowId({ nullable: true }),
    label: plain.text({ maxLength: 40 }),
    refills: plain.integer(),
    urgent: plain.boolean({ nullable: true }),
    reviewAt: plain.dateTime(),
  },
})

type Row = RowOf<typeof medications>
type NewRow = NewRowOf<typeof medications>
type Changes = ChangesOf<typeof medications>

expectType<
  Equal<
    Row,
    {
      id: string
      patientId: string
      createdAt: Date
      updatedAt: Date
      drug: string
      note: string | null
      startedOn: string
      stoppedOn: string | null
      lastTakenAt: Date
      tablets: number
      doseMg: string
      asNeeded: boolean
      reaction: Allergy | null
      scan: Buffer | null
      status: 'active' | 'stopped'
      prescribedBy: string | null
      label: string
      refills: number
      urgent: boolean | null
      reviewAt: Date
    }
  >
>()

expectType<
  Equal<
    PlainFieldOf<typeof medications>,
    keyof Row & ('status' | 'prescribedBy' | 'label' | 'refills' | 'urgent' | 'reviewAt')
  >
>()

// A column on its own keeps its literal nullability.
const _lone = encrypted.text({ maxBytes: 1 })
expectType<Equal<typeof _lone, EncryptedColumn<string, false>>>()
const _loneNullable = plain.enum(['a', 'b'], { nullable: true })
expectType<Equal<typeof _loneNullable, PlainColumn<'a' | 'b', true>>>()

const full: NewRow = {
  drug: 'Metformin',
  startedOn: '2026-01-01',
  lastTakenAt: new Date(),
  tablets: 2,
  doseMg: '500.000',
  asNeeded: false,
  status: 'active',
  label: 'morning',
  refills: 3,
  reviewAt: new Date(),
}
const withOptional: NewRow = {
  ...full,
  note: null,
  stoppedOn: '2026-02-01',
  reaction: { substance: 'penicillin', severity: 'mild' },
  scan: Buffer.alloc(1),
  prescribedBy: null,
  urgent: true,
}

// @ts-expect-error a non-nullable field is required on insert
const missing: NewRow = { ...full, drug: undefined }
// @ts-expect-error a non-nullable field cannot be null
const nulled: NewRow = { ...full, doseMg: null }
// @ts-expect-error a decimal is a string, not a number
const numeric: NewRow = { ...full, doseMg: 500 }
// @ts-expect-error an enum takes only its values
const badStatus: NewRow = { ...full, status: 'paused' }
// @ts-expect-error json takes the type its check proves
const badJson: NewRow = { ...full, reaction: { substance: 'x', severity: 'fatal' } }
// @ts-expect-error a date is a 'YYYY-MM-DD' string, a dateTime a Date
const dateAsDate: NewRow = { ...full, startedOn: new Date() }
// @ts-expect-error a field that is not declared
const extra: NewRow = { ...full, shoeSize: 9 }

const changes: Changes[] = [{}, { note: null }, { drug: 'Aspirin' }, { urgent: null }]
// @ts-expect-error only nullable fields may be set to null in an update
const clearRequired: Changes = { drug: null }
// @ts-expect-error an update cannot change the library's columns
const changeId: Changes = { id: 'x' }

// Options the factories refuse at compile time (never called: they would throw).
const refusedOptions = () => {
  // @ts-expect-error text needs maxBytes
  encrypted.text({})
  // @ts-expect-error decimal needs a scale
  encrypted.decimal({ precision: 8 })
  // @ts-expect-error a json check must be a type guard, so the row type is known
  encrypted.json({ maxBytes: 10, check: (v: unknown): boolean => v !== undefined })
  // @ts-expect-error an enum has at least one value
  plain.enum([])
  // @ts-expect-error nullable is a boolean
  encrypted.boolean({ nullable: 'yes' })
}

describe('row types of a declaration', () => {
  it('are checked by the compiler (this file type-checks)', () => {
    // The runtime part: the values above are what the types say they are.
    expect(medications.encryptedFields).to.have.length(10)
    expect(medications.plainFields).to.have.length(6)
    void [missing, nulled, numeric, badStatus, badJson, dateAsDate, extra]
    void [withOptional, changes, clearRequired, changeId, refusedOptions]
  })
})
