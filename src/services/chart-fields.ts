import { ValidationError } from '../errors/index.js'
import type { RecordEncryptedColumn } from '../repositories/clinical-record.row.js'
import type { PatientEncryptedColumn } from '../repositories/patient.row.js'
import type { PlainColumns } from '../repositories/encrypted-fields.js'
import {
  DATE_RULE,
  DATE_TIME_RULE,
  decodeText,
  encodeText,
  LONG_TEXT_BYTES,
  SHORT_TEXT_BYTES,
  type TextRule,
} from './field-values.js'

/** One encrypted domain field: its column and its rule. */
interface FieldSpec<C extends string> {
  readonly column: C
  readonly rule: TextRule
}

const short = (required: boolean, maxBytes = SHORT_TEXT_BYTES): TextRule => ({
  required,
  maxBytes,
})

export const DEMOGRAPHIC_FIELDS = {
  fullName: { column: 'full_name_enc', rule: short(true, 800) },
  dateOfBirth: {
    column: 'date_of_birth_enc',
    rule: { ...short(true, 10), pattern: DATE_RULE },
  },
  sex: { column: 'sex_enc', rule: short(false, 64) },
  nationalId: { column: 'national_id_enc', rule: short(false, 64) },
  address: { column: 'address_enc', rule: short(false) },
  phone: { column: 'phone_enc', rule: short(false, 64) },
  email: { column: 'email_enc', rule: short(false, 320) },
} as const satisfies Record<string, FieldSpec<PatientEncryptedColumn>>

export const RECORD_FIELDS = {
  occurredOn: {
    column: 'occurred_on_enc',
    rule: { ...short(true, 24), pattern: DATE_TIME_RULE },
  },
  title: { column: 'title_enc', rule: short(true) },
  code: { column: 'code_enc', rule: short(false, 64) },
  body: { column: 'body_enc', rule: { required: false, maxBytes: LONG_TEXT_BYTES } },
} as const satisfies Record<string, FieldSpec<RecordEncryptedColumn>>

/**
 * Validates and encodes the fields of `input` for sealing. With `partial`, only
 * given fields are checked and written (an update); required fields may be absent
 * but not null or empty.
 */
export function encodeFields<C extends string>(
  specs: Record<string, FieldSpec<C>>,
  input: Record<string, unknown>,
  partial: boolean,
  otherKeys: readonly string[] = [],
): PlainColumns<C> {
  for (const name of Object.keys(input)) {
    if (!(name in specs) && !otherKeys.includes(name)) {
      throw new ValidationError(name, 'is not a known field')
    }
  }
  const out: PlainColumns<C> = {}
  for (const [name, spec] of Object.entries(specs)) {
    const value = input[name]
    if (partial && value === undefined) continue
    if (partial && value === null && spec.rule.required) {
      encodeText(undefined, name, spec.rule) // throws "is required"
    }
    const encoded = encodeText(value, name, spec.rule)
    if (encoded !== undefined) out[spec.column] = encoded
  }
  return out
}

/** Opened columns back to domain field names (`null` where absent). */
export function decodeFields<C extends string, F extends string>(
  specs: Record<F, FieldSpec<C>>,
  row: Record<C, Buffer | null>,
): Record<F, string | null> {
  const out = {} as Record<F, string | null>
  for (const [name, spec] of Object.entries(specs) as [F, FieldSpec<C>][]) {
    out[name] = decodeText(row[spec.column])
  }
  return out
}
