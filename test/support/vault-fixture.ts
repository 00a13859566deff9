import { randomBytes } from 'node:crypto'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { createVault, type Vault, type VaultOptions } from '../../src/services/vault.js'
import type { Role, UserSummary } from '../../src/services/domain.js'
import { testDb } from './test-env.js'

/**
 * The audit key of this test run, made at test time. One key for the whole run,
 * like one deployment: every vault on the shared test database appends to the
 * same chain (audit_log), and appendAudit refuses a head made with another key.
 * Suites that need another key build a private chain (test/audit/chain-support.ts).
 */
export const TEST_AUDIT_KEY = randomBytes(32)
/** The run's search key: made at test time, like every test key. */
export const TEST_SEARCH_KEY = randomBytes(32)

/**
 * The organisation's recovery key pair for this test run: made at test time,
 * one per run like one per deployment, since every patient in the shared test
 * database is sealed to it (emergency set-up and rotate-all walk all of them).
 */
export const RUN_RECOVERY = generateUserKeyPair()

/**
 * A vault on the test database with cheap KDF parameters (TEST_KDF_POLICY; the
 * production cost runs in one named slow test) and the run's recovery key pair.
 */
export function testVault(overrides: Partial<VaultOptions> = {}): {
  vault: Vault
  recovery: { publicKey: Buffer; privateKey: Buffer }
} {
  const recovery = RUN_RECOVERY
  const vault = createVault({
    db: testDb(),
    recoveryPublicKey: recovery.publicKey,
    auditKey: TEST_AUDIT_KEY,
    searchKey: TEST_SEARCH_KEY,
    kdfPolicy: TEST_KDF_POLICY,
    ...overrides,
  })
  return { vault, recovery }
}

/** A unique username per call, so suites do not collide in the shared test database. */
export function uniqueName(base: string): string {
  return `${base}-${randomBytes(4).toString('hex')}`
}

/** A password made at test time (never a committed secret). */
export function testPassword(): string {
  return `pw-${randomBytes(12).toString('base64url')}`
}

export async function registerTestUser(
  vault: Vault,
  base: string,
  roles?: Role[],
): Promise<{ user: UserSummary; username: string; password: string }> {
  const username = uniqueName(base)
  const password = testPassword()
  const user = await vault.registerUser({
    username,
    displayName: `${base} (test)`,
    password,
    ...(roles ? { roles } : {}),
  })
  return { user, username, password }
}

/**
 * Demographics without a national id: the patients table's byNationalId index is unique, so
 * the many test patients made from this one object cannot all carry the same id.
 */
export const DEMO_DEMOGRAPHICS = {
  fullName: 'Ada Lovelace-Byron',
  dateOfBirth: '1815-12-10',
  sex: 'female',
  address: '12 St James Square, London SW1Y 4JH',
  phone: '+44 20 7946 0958',
  email: 'ada@example.org',
}

/** DEMO_DEMOGRAPHICS with a national id no other test patient has. */
export function demoDemographics(): typeof DEMO_DEMOGRAPHICS & { nationalId: string } {
  const digits = String(randomBytes(5).readUIntBE(0, 5)).padStart(13, '0')
  return { ...DEMO_DEMOGRAPHICS, nationalId: `NHS ${digits}` }
}
