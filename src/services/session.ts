import { wipe } from '../crypto/bytes.js'
import * as breakGlass from './break-glass.service.js'
import { AuthenticationError } from '../errors/index.js'
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
import type { RotationResult } from './rotation.service.js'
import { SessionKeyCache } from './session-keys.js'
import type { VaultContext } from './vault-context.js'

/**
 * An unlocked user: holds the user's X25519 private key, opens patient keys on
 * demand and caches their field subkeys for a bounded time. `close()` (or idle
 * expiry) wipes them. Every method checks the user's grant in the database.
 */
export class Session {
  readonly userId: string
  readonly userIdBytes: Buffer
  readonly username: string
  readonly roles: readonly Role[]
  /** Derived from the private key at login, not read from the database (DESIGN.md §5a). */
  readonly publicKey: Buffer
  readonly keyCache: SessionKeyCache
  readonly #ctx: VaultContext
  #privateKey: Buffer | undefined
  #lastUsed: number

  constructor(
    ctx: VaultContext,
    user: {
      id: string
      idBytes: Buffer
      username: string
      roles: readonly Role[]
      publicKey: Buffer
    },
    privateKey: Buffer,
  ) {
    this.#ctx = ctx
    this.userId = user.id
    this.userIdBytes = user.idBytes
    this.username = user.username
    this.roles = user.roles
    this.publicKey = user.publicKey
    this.keyCache = new SessionKeyCache(ctx.keyCacheTtlMs, ctx.now)
    this.#privateKey = privateKey
    this.#lastUsed = ctx.now()
  }

  get isOpen(): boolean {
    return this.#privateKey !== undefined
  }

  /** The private key, for services. Throws once the session is closed or idle too long. */
  privateKey(): Buffer {
    const now = this.#ctx.now()
    if (this.#privateKey && now - this.#lastUsed > this.#ctx.sessionIdleMs) this.close()
    if (!this.#privateKey)
      throw new AuthenticationError('session is closed or expired; log in again')
    this.#lastUsed = now
    return this.#privateKey
  }

  /** Wipes the private key and every cached patient key (best effort: crypto/bytes.ts). */
  close(): void {
    wipe(this.#privateKey)
    this.#privateKey = undefined
    this.keyCache.clear()
  }

  createPatient(demographics: Demographics): Promise<string> {
    return patients.createPatient(this.#ctx, this, demographics)
  }

  readPatient(patientId: string): Promise<Patient> {
    return patients.readPatient(this.#ctx, this, patientId)
  }

  updatePatient(patientId: string, changes: Partial<Demographics>): Promise<void> {
    return patients.updatePatient(this.#ctx, this, patientId, changes)
  }

  addRecord(patientId: string, record: NewClinicalRecord): Promise<string> {
    return records.addRecord(this.#ctx, this, patientId, record)
  }

  listRecords(patientId: string): Promise<ClinicalRecord[]> {
    return records.listRecords(this.#ctx, this, patientId)
  }

  readRecord(patientId: string, recordId: string): Promise<ClinicalRecord> {
    return records.readRecord(this.#ctx, this, patientId, recordId)
  }

  updateRecord(
    patientId: string,
    recordId: string,
    changes: Partial<NewClinicalRecord>,
  ): Promise<void> {
    return records.updateRecord(this.#ctx, this, patientId, recordId, changes)
  }

  deleteRecord(patientId: string, recordId: string): Promise<void> {
    return records.deleteRecord(this.#ctx, this, patientId, recordId)
  }

  /** Seals the patient's key to another user's public key; their password is not needed. */
  grant(patientId: string, granteeUserId: string): Promise<{ created: boolean }> {
    return grants.grantPatient(this.#ctx, this, patientId, granteeUserId)
  }

  /** New key version for the patient; every value re-encrypted in SQL, every grant re-sealed. */
  rotatePatientKey(patientId: string): Promise<RotationResult> {
    return rotation.rotatePatientKey(this.#ctx, this, patientId)
  }

  /** Removes the user's grant and rotates the patient key in the same transaction. */
  revoke(patientId: string, userId: string): Promise<RotationResult> {
    return rotation.revokeAccess(this.#ctx, this, patientId, userId)
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
    return breakGlass.breakGlass(this.#ctx, this, patientId, reason, durationMs)
  }

  /** Who can open the patient (requires a grant yourself). */
  listAccess(patientId: string): Promise<AccessEntry[]> {
    return grants.listAccess(this.#ctx, this, patientId)
  }

  /** Ids of the patients this user holds a grant for. */
  listAccessiblePatients(): Promise<string[]> {
    return grants.listAccessiblePatients(this.#ctx, this)
  }
}
