import * as chart from './chart.service.js'
import type { Chart } from './chart.service.js'
import { ValidationError } from '../errors/index.js'
import * as breakGlass from './break-glass.service.js'
import * as records from './clinical-record.service.js'
import type {
  AccessEntry,
  ClinicalRecord,
  Demographics,
  NewClinicalRecord,
  Patient,
  Role,
} from './domain.js'
import * as grants from './grant.service.js'
import * as patients from './patient.service.js'
import * as rotation from './rotation.service.js'
import type { SearchOptions, SearchResult } from './search.service.js'
import { TableRepository } from './table-repository.js'
import type { TableDeclaration } from '../schema/define-table.js'
import type { RotationResult } from './rotation.service.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/**
 * The unlocked user behind each session, for the vault's calls that take a session
 * back (an administrator's). Not a public member of Session: that would hand the
 * private key to any code holding a session. src/index.ts does not export this map
 * or unlockedUserOf.
 */
const unlockedUsers = new WeakMap<Session, UnlockedUser>()

/**
 * The unlocked user of a session an application hands back (an administrator on
 * a vault call). Anything that is not a Session from `login()` is refused.
 */
export function unlockedUserOf(session: Session, field: string): UnlockedUser {
  const user = unlockedUsers.get(session)
  if (!user) throw new ValidationError(field, 'must be a session returned by login()')
  return user
}

/**
 * A logged-in user, as applications see it: the chart operations, each checking
 * the user's grant in the database. The keys live in the UnlockedUser it holds,
 * which is what the services receive; they never see this class, so it can import
 * them. `close()` (or idle expiry) wipes the keys.
 */
export class Session {
  readonly userId: string
  readonly username: string
  readonly roles: readonly Role[]
  /** Checked against the private key at login. */
  readonly publicKey: Buffer
  readonly #ctx: VaultContext
  readonly #user: UnlockedUser

  constructor(ctx: VaultContext, user: UnlockedUser) {
    this.userId = user.userId
    this.username = user.username
    this.roles = user.roles
    this.publicKey = user.publicKey
    this.#ctx = ctx
    this.#user = user
    unlockedUsers.set(this, user)
  }

  get isOpen(): boolean {
    return this.#user.isOpen
  }

  /** Wipes the private key and every cached patient key (best effort: crypto/bytes.ts). */
  close(): void {
    this.#user.close()
  }

  /**
   * The repository of a declared table (one passed to `createVault({ tables })`)
   * acting as this session's user.
   */
  table<D extends TableDeclaration>(declaration: D): TableRepository<D> {
    return new TableRepository(this.#ctx, this.#user, declaration)
  }

  createPatient(demographics: Demographics): Promise<string> {
    return patients.createPatient(this.#ctx, this.#user, demographics)
  }

  /**
   * Finds patients by one of the patients table's search indexes
   * (docs/search.md): `searchPatients('byNationalId', { nationalId })`. Returns
   * the matching patients the session holds a grant for, and how many other
   * patients the index found (their ids only for a registrar, exact index).
   */
  searchPatients(
    index: string,
    query: Partial<Demographics>,
    options: SearchOptions = {},
  ): Promise<SearchResult<Patient>> {
    return patients.searchPatients(this.#ctx, this.#user, index, query, options)
  }

  readPatient(patientId: string): Promise<Patient> {
    return patients.readPatient(this.#ctx, this.#user, patientId)
  }

  updatePatient(patientId: string, changes: Partial<Demographics>): Promise<void> {
    return patients.updatePatient(this.#ctx, this.#user, patientId, changes)
  }

  addRecord(patientId: string, record: NewClinicalRecord): Promise<string> {
    return records.addRecord(this.#ctx, this.#user, patientId, record)
  }

  /**
   * Demographics and every clinical record in one read, after checking all the
   * patient's rows (every declared table) against the recorded chart state: a
   * row deleted, added, NULLed or rolled back is an IntegrityError (docs/integrity.md).
   */
  readChart(patientId: string): Promise<Chart> {
    return chart.readChart(this.#ctx, this.#user, patientId)
  }

  listRecords(patientId: string): Promise<ClinicalRecord[]> {
    return records.listRecords(this.#ctx, this.#user, patientId)
  }

  readRecord(patientId: string, recordId: string): Promise<ClinicalRecord> {
    return records.readRecord(this.#ctx, this.#user, patientId, recordId)
  }

  updateRecord(
    patientId: string,
    recordId: string,
    changes: Partial<NewClinicalRecord>,
  ): Promise<void> {
    return records.updateRecord(this.#ctx, this.#user, patientId, recordId, changes)
  }

  deleteRecord(patientId: string, recordId: string): Promise<void> {
    return records.deleteRecord(this.#ctx, this.#user, patientId, recordId)
  }

  /** Seals the patient's key to another user's public key; their password is not needed. */
  grant(patientId: string, granteeUserId: string): Promise<{ created: boolean }> {
    return grants.grantPatient(this.#ctx, this.#user, patientId, granteeUserId)
  }

  /** New key version for the patient; every value re-encrypted in SQL, every grant re-sealed. */
  rotatePatientKey(patientId: string): Promise<RotationResult> {
    return rotation.rotatePatientKey(this.#ctx, this.#user, patientId)
  }

  /** Removes the user's grant and rotates the patient key in the same transaction. */
  revoke(patientId: string, userId: string): Promise<RotationResult> {
    return rotation.revokeAccess(this.#ctx, this.#user, patientId, userId)
  }

  /**
   * Break-glass: opens a patient without a grant, for `durationMs` (1 hour by
   * default). Needs the emergency role, the emergency key and a reason; audited.
   */
  breakGlass(
    patientId: string,
    reason: string,
    durationMs?: number,
  ): Promise<{ expiresAt: Date }> {
    return breakGlass.breakGlass(this.#ctx, this.#user, patientId, reason, durationMs)
  }

  /** Who can open the patient (requires a grant yourself). */
  listAccess(patientId: string): Promise<AccessEntry[]> {
    return grants.listAccess(this.#ctx, this.#user, patientId)
  }

  /** Ids of the patients this user holds a grant for. */
  listAccessiblePatients(): Promise<string[]> {
    return grants.listAccessiblePatients(this.#ctx, this.#user)
  }
}
