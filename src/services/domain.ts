import type { RECORD_KINDS } from '../schema/chart-tables.js'

export type RecordKind = (typeof RECORD_KINDS)[number]

/** Roles a user can hold; `emergency` allows break-glass, `admin` user administration. */
/** `registrar`: a registration desk, told which patients outside its grants a search's exact index matched (docs/search.md). */
export type Role = 'clinician' | 'admin' | 'emergency' | 'registrar'
export const ROLES: readonly Role[] = ['clinician', 'admin', 'emergency', 'registrar']

export interface UserSummary {
  readonly id: string
  readonly username: string
  readonly displayName: string
  readonly roles: readonly Role[]
  readonly disabled: boolean
}

export interface NewUser {
  readonly username: string
  readonly displayName: string
  readonly password: string
  readonly roles?: readonly Role[]
}

/** A patient's demographics: every field is encrypted at rest. Dates are `YYYY-MM-DD`. */
export interface Demographics {
  readonly fullName: string
  readonly dateOfBirth: string
  readonly sex?: string | null
  readonly nationalId?: string | null
  readonly address?: string | null
  readonly phone?: string | null
  readonly email?: string | null
}

export interface Patient extends Demographics {
  readonly id: string
  readonly keyVersion: number
  readonly createdBy: string
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** A chart entry. `kind` is stored in clear; everything else is encrypted. */
export interface NewClinicalRecord {
  readonly kind: RecordKind
  /** Date (`YYYY-MM-DD`) or UTC date-time (`YYYY-MM-DDTHH:MM[:SS[.sss]]Z`) of the event. */
  readonly occurredOn: string
  readonly title: string
  /** A coded value, e.g. ICD-10 `E11.9` or RxNorm `860975`. */
  readonly code?: string | null
  readonly body?: string | null
}

export interface ClinicalRecord extends NewClinicalRecord {
  readonly id: string
  readonly patientId: string
  readonly authorId: string
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface AccessEntry {
  readonly userId: string
  readonly username: string
  readonly displayName: string
  readonly grantedBy: string
  readonly grantedAt: Date
}
