import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import { expect } from './chai.js'
import { wipe } from '../../src/crypto/bytes.js'
import { rowIdToString } from '../../src/db/row-id.js'
import { envelopeTablesIn } from './envelope-tables.js'
import { findUnverifiedRows } from '../../src/repositories/reencryption.repository.js'
import { verifyAuditChain } from '../../src/services/audit-verify.js'
import { recoveryOpener } from '../../src/services/key-openers.js'
import { fieldKeysFor } from '../../src/services/patient-access.js'
import type { VaultContext } from '../../src/services/vault-context.js'
import { TEST_AUDIT_KEY } from './vault-fixture.js'

/**
 * Checks shared by the lifecycle acceptance tests (crash safety, concurrency):
 * what must hold of the stored key material whatever happened to the operations.
 */

/**
 * A patient's key material is whole, seen from the database with the recovery
 * key (no user's grant needed): exactly one live key version, the current one
 * (every other retired); grants and the recovery seal only for it; every
 * envelope of the patient verifying under it. Returns the current version.
 */
export async function expectKeyedConsistently(
  db: Knex,
  recovery: { publicKey: Buffer; privateKey: Buffer },
  patientId: Buffer,
): Promise<number> {
  const id = rowIdToString(patientId)
  const [patient] = await db('patients')
    .select('current_key_version')
    .where('id', patientId)
  expect(patient, `patient ${id} exists`).to.not.equal(undefined)
  const current = patient.current_key_version as number
  const live = await db('patient_key_versions')
    .select('version')
    .where('patient_id', patientId)
    .whereNull('retired_at')
  expect(
    live.map((v: { version: number }) => v.version),
    `${id}: live key versions`,
  ).to.deep.equal([current])
  const grantVersions = await db('patient_key_grants')
    .distinct('key_version')
    .where('patient_id', patientId)
  expect(
    grantVersions.map((g: { key_version: number }) => g.key_version),
    `${id}: versions holding grants`,
  ).to.deep.equal([current])
  const seals = await db('patient_key_recovery_seals')
    .select('key_version')
    .where('patient_id', patientId)
  expect(
    seals.map((s: { key_version: number }) => s.key_version),
    `${id}: recovery seals`,
  ).to.deep.equal([current])

  // recoveryOpener reads only the recovery public key and its fingerprint.
  const ctx = {
    recoveryPublicKey: recovery.publicKey,
    recoveryFingerprint: createHash('sha256').update(recovery.publicKey).digest(),
  } as VaultContext
  const key = await recoveryOpener(ctx, recovery.privateKey)(db, patientId, current)
  const keys = fieldKeysFor(key, current)
  try {
    for (const spec of await envelopeTablesIn(db)) {
      const bad = await findUnverifiedRows(db, spec, patientId, keys)
      expect(
        bad.map((b) => b.toString('hex')),
        `${id}: ${spec.table} rows not verifying under v${current}`,
      ).to.deep.equal([])
    }
  } finally {
    wipe(key, keys.enc, keys.inner, keys.outer)
  }
  return current
}

/** verifyAuditChain over the whole shared chain, with the run's audit key. */
export async function expectAuditChainVerifies(db: Knex): Promise<void> {
  const result = await verifyAuditChain(db, TEST_AUDIT_KEY)
  expect(
    result,
    JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)),
  ).to.include({ ok: true })
}
