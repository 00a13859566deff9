// The installed package's type declarations, as a TypeScript application sees
// them. run.sh copies this file to smoke.mts and smoke.cts and type-checks both
// (tsc --strict, skipLibCheck off, module nodenext): the `import` and the
// `require` conditions each lead to declarations that must check. Not run:
// smoke.mjs and smoke.cjs run the same calls.
import { randomBytes } from 'node:crypto'
import {
  AccessDeniedError,
  createDb,
  createVault,
  generateRecoveryKeyPair,
  migrateLatest,
  migrationStatus,
  verifyAuditChain,
  type AuditVerifyResult,
  type Patient,
  type Session,
  type UserSummary,
  type Vault,
  type VaultErrorCode,
} from 'emr-vault'
import {
  startLocalMysql,
  TEST_KDF_POLICY,
  type Engine,
  type LocalMysql,
} from 'emr-vault/testing'

async function main(database: string): Promise<void> {
  const engine: Engine = 'mysql'
  const server: LocalMysql & { readonly database: string } = await startLocalMysql({
    engine,
    database,
    log: (line: string) => process.stdout.write(`${line}\n`),
  })
  const db = createDb(server)
  try {
    const migrated: { batch: number; applied: string[] } = await migrateLatest(db)
    const pending: string[] = (await migrationStatus(db)).pending
    if (migrated.applied.length === 0 || pending.length > 0)
      throw new Error('not migrated')
    const auditKey: Buffer = randomBytes(32)
    const vault: Vault = createVault({
      db,
      recoveryPublicKey: generateRecoveryKeyPair().publicKey,
      auditKey,
      searchKey: randomBytes(32),
      kdfPolicy: TEST_KDF_POLICY,
    })
    const alice: UserSummary = await vault.registerUser({
      username: 'alice',
      displayName: 'Alice',
      password: 'correct horse battery staple',
      roles: ['clinician'],
    })
    const session: Session = await vault.login('alice', 'correct horse battery staple')
    const patientId: string = await session.createPatient({
      fullName: 'Mary Seacole',
      dateOfBirth: '1805-11-23',
      sex: null,
    })
    const { created }: { created: boolean } = await session.grant(patientId, alice.id)
    const patient: Patient = await session.readPatient(patientId)
    const name: string = patient.fullName
    const when: Date = patient.createdAt
    try {
      await session.readPatient(randomBytes(16).toString('hex'))
    } catch (e) {
      if (e instanceof AccessDeniedError) {
        const code: VaultErrorCode = e.code
        process.stdout.write(`${code}\n`)
      }
    }
    const chain: AuditVerifyResult = await verifyAuditChain(db, auditKey)
    process.stdout.write(`${name} ${when.toISOString()} ${created} ${chain.ok}\n`)
    session.close()
    await server.stop()
  } finally {
    await db.destroy()
  }
}

void main('smoke_types')
