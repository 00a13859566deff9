import { expect } from '../../support/chai.js'
import {
  declareTable,
  defineTable,
  ROW_AUDIT_ACTIONS,
  snakeCase,
} from '../../../src/schema/define-table.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import { plain } from '../../../src/schema/plain-columns.js'
import { expectValidation, thrown } from './column-checks.js'

const drug = encrypted.text({ maxBytes: 200 })

/** Calls defineTable with a spec the type checker would refuse. */
const define = (spec: unknown) => defineTable(spec as never)

describe('defineTable', () => {
  it('resolves columns: <snake_case>_enc for encrypted, <snake_case> for plain', () => {
    const meds = defineTable({
      name: 'medications',
      encrypted: {
        drug,
        startedOn: encrypted.date(),
        doseMg: encrypted.decimal({ precision: 8, scale: 3, column: 'dose' }),
      },
      plain: {
        status: plain.enum(['active', 'stopped']),
        prescribedBy: plain.rowId({ nullable: true }),
      },
    })
    expect(meds.name).to.equal('medications')
    expect(meds.patientColumn).to.equal('patient_id')
    expect(meds.encryptedFields.map((f) => [f.name, f.column])).to.deep.equal([
      ['drug', 'drug_enc'],
      ['startedOn', 'started_on_enc'],
      ['doseMg', 'dose'],
    ])
    expect(meds.plainFields.map((f) => [f.name, f.column])).to.deep.equal([
      ['status', 'status'],
      ['prescribedBy', 'prescribed_by'],
    ])
    expect(meds.encryptedFields[0]!.def).to.equal(drug)
    expect(meds.convertingFrom).to.deep.equal({})
    expect(meds.auditActions).to.equal(ROW_AUDIT_ACTIONS)
    expect(Object.isFrozen(meds)).to.equal(true)
    expect(snakeCase('dateOfBirth')).to.equal('date_of_birth')
  })

  it('takes another patient column, and the chart its own audit actions', () => {
    const actions = {
      create: 'c',
      read: 'r',
      list: 'l',
      update: 'u',
      delete: 'd',
      open: 'o',
    }
    const t = declareTable(
      { name: 'records', patientColumn: 'subject_id', encrypted: { drug } },
      actions,
    )
    expect(t.patientColumn).to.equal('subject_id')
    expect(t.auditActions).to.equal(actions)
  })

  it('lets only the chart (declareTable) name id as the patient column', () => {
    const t = declareTable(
      { name: 'people', patientColumn: 'id', encrypted: { drug } },
      ROW_AUDIT_ACTIONS,
    )
    expect(t.patientColumn).to.equal('id')
    expectValidation(
      () =>
        declareTable(
          {
            name: 'people',
            patientColumn: 'id',
            encrypted: { drug: encrypted.text({ maxBytes: 1, column: 'id' }) },
          },
          ROW_AUDIT_ACTIONS,
        ),
      'drug',
      /uses column id/,
    )
  })

  it('records the plaintext columns of fields being converted', () => {
    const t = defineTable({
      name: 'legacy',
      encrypted: { drug },
      plain: { status: plain.text({ maxLength: 10 }) },
      convertingFrom: { drug: 'drug_name' },
    })
    expect(t.convertingFrom).to.deep.equal({ drug: 'drug_name' })
  })

  describe('refuses a malformed declaration with a ValidationError', () => {
    const cases: [string, unknown, string, RegExp][] = [
      ['not an object', null, 'table', /declaration object/],
      ['no name', { encrypted: { drug } }, 'name', /table name/],
      ['a bad name', { name: 'Medications', encrypted: { drug } }, 'name', /table name/],
      [
        'a name with SQL',
        { name: 'm; DROP TABLE x', encrypted: { drug } },
        'name',
        /table name/,
      ],
      [
        'a 65-character name',
        { name: 'm'.repeat(65), encrypted: { drug } },
        'name',
        /at most 64/,
      ],
      [
        'a bad patient column',
        { name: 'm', patientColumn: 'Patient', encrypted: { drug } },
        'patientColumn',
        /column name/,
      ],
      [
        'the patient column as id',
        { name: 'm', patientColumn: 'id', encrypted: { drug } },
        'patientColumn',
        /library keeps/,
      ],
      [
        'the patient column as created_at',
        { name: 'm', patientColumn: 'created_at', encrypted: { drug } },
        'patientColumn',
        /library keeps/,
      ],
      [
        'the patient column as updated_at',
        { name: 'm', patientColumn: 'updated_at', encrypted: { drug } },
        'patientColumn',
        /library keeps/,
      ],
      ['no encrypted columns', { name: 'm', encrypted: {} }, 'encrypted', /at least one/],
      ['encrypted missing', { name: 'm' }, 'encrypted', /at least one/],
      [
        'encrypted as an array',
        { name: 'm', encrypted: [drug] },
        'encrypted',
        /object of columns/,
      ],
      [
        'plain as a string',
        { name: 'm', encrypted: { drug }, plain: 'status' },
        'plain',
        /object of columns/,
      ],
      [
        'a snake_case field',
        { name: 'm', encrypted: { drug_name: drug } },
        'encrypted.drug_name',
        /camelCase/,
      ],
      [
        'a field starting with a capital',
        { name: 'm', encrypted: { Drug: drug } },
        'encrypted.Drug',
        /camelCase/,
      ],
      [
        'a field named id',
        { name: 'm', encrypted: { id: drug } },
        'encrypted.id',
        /every row already has/,
      ],
      [
        'a field named patientId',
        { name: 'm', encrypted: { drug }, plain: { patientId: plain.rowId() } },
        'plain.patientId',
        /every row already has/,
      ],
      [
        'a field named createdAt',
        { name: 'm', encrypted: { drug }, plain: { createdAt: plain.dateTime() } },
        'plain.createdAt',
        /every row already has/,
      ],
      [
        'an unknown type',
        { name: 'm', encrypted: { drug: { ...drug, type: 'money' } } },
        'encrypted.drug',
        /made by encrypted/,
      ],
      [
        'a plain column among encrypted ones',
        { name: 'm', encrypted: { drug: plain.text({ maxLength: 5 }) } },
        'encrypted.drug',
        /made by encrypted/,
      ],
      [
        'an encrypted column among plain ones',
        { name: 'm', encrypted: { drug }, plain: { status: drug } },
        'plain.status',
        /made by plain/,
      ],
      [
        'a string as a column',
        { name: 'm', encrypted: { drug: 'text' } },
        'encrypted.drug',
        /made by encrypted/,
      ],
      [
        'a look-alike without methods',
        {
          name: 'm',
          encrypted: { drug: { kind: 'encrypted', type: 'text', nullable: false } },
        },
        'encrypted.drug',
        /made by encrypted/,
      ],
      [
        'a look-alike without nullable',
        {
          name: 'm',
          encrypted: {
            drug: { kind: 'encrypted', type: 'text', encode() {}, decode() {} },
          },
        },
        'encrypted.drug',
        /made by encrypted/,
      ],
      [
        'a column name that is not a string',
        { name: 'm', encrypted: { drug: { ...drug, column: ['drug_enc'] } } },
        'encrypted.drug',
        /made by encrypted/,
      ],
      [
        'a bad column name',
        {
          name: 'm',
          encrypted: { drug: encrypted.text({ maxBytes: 1, column: 'Drug' }) },
        },
        'encrypted.drug',
        /at most 64 lower-case/,
      ],
      [
        'a field too long for its column',
        { name: 'm', encrypted: { ['a'.repeat(61) + 'Bc']: drug } },
        `encrypted.${'a'.repeat(61)}Bc`,
        /at most 64/,
      ],
      [
        'a field declared twice',
        { name: 'm', encrypted: { drug }, plain: { drug: plain.text({ maxLength: 5 }) } },
        'drug',
        /declared twice/,
      ],
      [
        'a column named id',
        { name: 'm', encrypted: { drug: encrypted.text({ maxBytes: 1, column: 'id' }) } },
        'drug',
        /uses column id, which the library keeps/,
      ],
      [
        'the patient column',
        {
          name: 'm',
          encrypted: { drug },
          plain: { patient: plain.rowId({ column: 'patient_id' }) },
        },
        'patient',
        /uses column patient_id, which the library keeps/,
      ],
      [
        'a custom patient column',
        {
          name: 'm',
          patientColumn: 'subject_id',
          encrypted: { drug },
          plain: { subjectId: plain.rowId() },
        },
        'subjectId',
        /uses column subject_id, which the library keeps/,
      ],
      [
        'created_at',
        {
          name: 'm',
          encrypted: { drug },
          plain: { created: plain.dateTime({ column: 'created_at' }) },
        },
        'created',
        /uses column created_at/,
      ],
      [
        'updated_at',
        {
          name: 'm',
          encrypted: { drug },
          plain: { updated: plain.dateTime({ column: 'updated_at' }) },
        },
        'updated',
        /uses column updated_at/,
      ],
      [
        'two fields on one column',
        {
          name: 'm',
          encrypted: { drug },
          plain: { drugEnc: plain.text({ maxLength: 5 }) },
        },
        'drugEnc',
        /uses column drug_enc twice/,
      ],
      [
        'two encrypted fields on one column',
        {
          name: 'm',
          encrypted: { drug, other: encrypted.text({ maxBytes: 1, column: 'drug_enc' }) },
        },
        'other',
        /uses column drug_enc twice/,
      ],
      [
        'converting a field that is not encrypted',
        {
          name: 'm',
          encrypted: { drug },
          plain: { status: plain.enum(['a']) },
          convertingFrom: { status: 'old_status' },
        },
        'convertingFrom.status',
        /not an encrypted field/,
      ],
      [
        'converting from a declared column',
        {
          name: 'm',
          encrypted: { drug },
          plain: { status: plain.enum(['a']) },
          convertingFrom: { drug: 'status' },
        },
        'convertingFrom.drug',
        /not a declared or library column/,
      ],
      [
        'converting from its own envelope column',
        { name: 'm', encrypted: { drug }, convertingFrom: { drug: 'drug_enc' } },
        'convertingFrom.drug',
        /not a declared or library column/,
      ],
      [
        'converting from a library column',
        { name: 'm', encrypted: { drug }, convertingFrom: { drug: 'patient_id' } },
        'convertingFrom.drug',
        /not a declared or library column/,
      ],
      [
        'converting from a bad column name',
        { name: 'm', encrypted: { drug }, convertingFrom: { drug: 'Drug Name' } },
        'convertingFrom.drug',
        /plaintext column/,
      ],
      [
        'converting from a non-string',
        { name: 'm', encrypted: { drug }, convertingFrom: { drug: 1 } },
        'convertingFrom.drug',
        /plaintext column/,
      ],
    ]
    for (const [what, spec, field, rule] of cases) {
      it(what, () => expectValidation(() => define(spec), field, rule))
    }
  })

  it('never runs a column on a value while declaring (nothing is encoded)', () => {
    let calls = 0
    const spy = {
      ...drug,
      encode: () => {
        calls++
        return Buffer.alloc(0)
      },
      decode: () => {
        calls++
        return ''
      },
    }
    defineTable({ name: 'm', encrypted: { drug: spy } })
    const err = thrown(() => define({ name: 'm', encrypted: { drug: spy, id: spy } }))
    expect((err as Error).name).to.equal('ValidationError')
    expect(calls).to.equal(0)
  })
})
