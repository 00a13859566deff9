import { declareTable } from './define-table.js'
import { DATE_OR_DATE_TIME, encrypted } from './encrypted-columns.js'
import { normalise } from './normalisers.js'
import { plain } from './plain-columns.js'
import { searchIndex } from './search-indexes.js'

/**
 * The chart every deployment has: a patient's demographics and clinical
 * records, declared like any application table. Their columns predate the
 * declarations (the project's first migration), hence the explicit names.
 */

/** 1,024 bytes: the short envelope columns of the chart (VARBINARY(1093)). */
const SHORT = 1024
/** 1 MiB for a clinical note (MEDIUMBLOB holds 16 MiB). */
const LONG = 1024 * 1024

/**
 * `patients`: the patient is the row (`id` is the patient id). Its key version
 * and the patient key itself are the key hierarchy's (createPatient), not fields.
 */
export const PATIENTS = declareTable(
  {
    name: 'patients',
    patientColumn: 'id',
    encrypted: {
      fullName: encrypted.text({ column: 'full_name_enc', maxBytes: 800 }),
      dateOfBirth: encrypted.date({ column: 'date_of_birth_enc' }),
      sex: encrypted.text({ column: 'sex_enc', maxBytes: 64, nullable: true }),
      nationalId: encrypted.text({
        column: 'national_id_enc',
        maxBytes: 64,
        nullable: true,
      }),
      address: encrypted.text({ column: 'address_enc', maxBytes: SHORT, nullable: true }),
      phone: encrypted.text({ column: 'phone_enc', maxBytes: 64, nullable: true }),
      email: encrypted.text({ column: 'email_enc', maxBytes: 320, nullable: true }),
    },
    plain: {
      createdBy: plain.rowId({ column: 'created_by' }),
    },
    // How a front desk finds a patient (docs/search.md); the columns are
    // migration 20261203_0007's.
    indexes: {
      byNationalId: searchIndex.exact({
        fields: { nationalId: [normalise.lettersAndDigits, normalise.casefold] },
        unique: true,
      }),
      byName: searchIndex.exact({
        fields: { fullName: [normalise.casefold, normalise.whitespace] },
      }),
      // 100 years of birth dates (36,525) × 26 initials; 16 bits leave about 14
      // dates-and-initials per index value, and 15 candidates per lookup at
      // a million patients.
      byBirthAndInitial: searchIndex.coarse({
        fields: {
          dateOfBirth: [],
          fullName: [normalise.casefold, normalise.lastWord, normalise.prefix(1)],
        },
        bits: 16,
        estimate: { distinct: 36_525 * 26, rows: 1_000_000 },
      }),
      // About 10,000 surname sounds × 100 birth years.
      bySurnameSoundAndYear: searchIndex.coarse({
        fields: {
          fullName: [normalise.lastWord, normalise.phonetic],
          dateOfBirth: [normalise.year],
        },
        bits: 16,
        estimate: { distinct: 1_000_000, rows: 1_000_000 },
      }),
    },
  },
  {
    create: 'patient.create',
    read: 'patient.read',
    list: 'patient.read',
    update: 'patient.update',
    delete: 'patient.update',
    open: 'patient.read',
  },
)

export const RECORD_KINDS = [
  'encounter',
  'note',
  'diagnosis',
  'medication',
  'allergy',
  'observation',
] as const

export const CLINICAL_RECORDS = declareTable(
  {
    name: 'clinical_records',
    encrypted: {
      occurredOn: encrypted.text({
        column: 'occurred_on_enc',
        maxBytes: 24,
        pattern: DATE_OR_DATE_TIME,
      }),
      title: encrypted.text({ column: 'title_enc', maxBytes: SHORT }),
      code: encrypted.text({ column: 'code_enc', maxBytes: 64, nullable: true }),
      body: encrypted.text({ column: 'body_enc', maxBytes: LONG, nullable: true }),
    },
    plain: {
      kind: plain.enum(RECORD_KINDS),
      authorId: plain.rowId({ column: 'author_id' }),
    },
  },
  {
    create: 'record.create',
    read: 'record.read',
    list: 'record.list',
    update: 'record.update',
    delete: 'record.delete',
    open: 'record.read',
  },
)

/** The chart's declarations, registered in every vault before the application's. */
export const CHART_TABLES = [PATIENTS, CLINICAL_RECORDS] as const
