import { defineTable, encrypted, plain, type RowOf, type TextPattern } from 'emr-vault'

/**
 * The clinic's own tables, declared once: the repository, the migration and
 * every key rotation read these. What is clinical is encrypted; what the
 * clinic filters on in SQL (a status, who prescribed) is kept in clear, and
 * so can be read by anyone who can read the table.
 */

/** A text column that holds one of a few words (still encrypted: the word is clinical). */
function oneOf(values: readonly string[]): TextPattern {
  return {
    test: (v) => values.includes(v),
    description: `must be one of ${values.join(', ')}`,
  }
}

export const ROUTES = [
  'oral',
  'sublingual',
  'topical',
  'inhaled',
  'iv',
  'im',
  'sc',
] as const
export const MEDICATION_STATUSES = ['active', 'on-hold', 'stopped'] as const

export const medications = defineTable({
  name: 'medications',
  encrypted: {
    drug: encrypted.text({ maxBytes: 200 }),
    /** A decimal string, '500' or '2.5': a binary float would not be exact. */
    dose: encrypted.decimal({ precision: 8, scale: 3 }),
    doseUnit: encrypted.text({ maxBytes: 16 }),
    route: encrypted.text({ maxBytes: 16, pattern: oneOf(ROUTES) }),
    startedOn: encrypted.date(),
    stoppedOn: encrypted.date({ nullable: true }),
    instructions: encrypted.text({ maxBytes: 1000, nullable: true }),
  },
  plain: {
    prescriberId: plain.rowId(),
    status: plain.enum(MEDICATION_STATUSES),
  },
})

export const SEVERITIES = ['mild', 'moderate', 'severe'] as const

/** What an allergy's `detail` holds; the check below is its schema. */
export interface AllergyDetail {
  readonly category: 'food' | 'medication' | 'environment'
  readonly manifestations: readonly string[]
  readonly snomedCode?: string
}

export function isAllergyDetail(value: unknown): value is AllergyDetail {
  const v = value as Partial<Record<keyof AllergyDetail, unknown>> | null
  return (
    typeof v === 'object' &&
    v !== null &&
    ['food', 'medication', 'environment'].includes(v.category as string) &&
    Array.isArray(v.manifestations) &&
    v.manifestations.every((m) => typeof m === 'string') &&
    (v.snomedCode === undefined || /^\d{6,18}$/.test(String(v.snomedCode)))
  )
}

export const allergies = defineTable({
  name: 'allergies',
  encrypted: {
    allergen: encrypted.text({ maxBytes: 200 }),
    reaction: encrypted.text({ maxBytes: 500 }),
    severity: encrypted.text({ maxBytes: 16, pattern: oneOf(SEVERITIES) }),
    recordedAt: encrypted.dateTime(),
    detail: encrypted.json({ maxBytes: 4096, check: isAllergyDetail, nullable: true }),
  },
  plain: {
    recordedBy: plain.rowId(),
    status: plain.enum(['active', 'refuted']),
  },
})

/** Every table the clinic declares: `createVault({ tables })` must be given them all. */
export const CLINIC_TABLES = [medications, allergies] as const

export type Medication = RowOf<typeof medications>
export type Allergy = RowOf<typeof allergies>
