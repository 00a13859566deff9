// The installed package used as an ES module: the library and emr-vault/testing
// by `import`, on a fresh database. Run by run.sh from the temporary project:
// node smoke.mjs <database>
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import process from 'node:process'
import * as emrVault from 'emr-vault'
import { startLocalMysql, TEST_KDF_POLICY } from 'emr-vault/testing'

const {
  AccessDeniedError,
  AuthenticationError,
  createDb,
  createVault,
  generateRecoveryKeyPair,
  migrateLatest,
  migrationStatus,
  verifyAuditChain,
} = emrVault

const say = (line) => process.stdout.write(`${line}\n`)
const database = process.argv[2]
assert.match(database ?? '', /^smoke_\w+$/, 'usage: node smoke.mjs <database>')
const server = await startLocalMysql({
  engine: process.env.EMR_VAULT_ENGINE || 'mysql',
  stateDir: resolve('.emr-vault'),
  database,
  log: (line) => say(`  [db] ${line}`),
})
const db = createDb(server)
try {
  const migrated = await migrateLatest(db)
  assert.ok(migrated.applied.length > 0, 'a fresh database gets every migration')
  assert.deepEqual((await migrationStatus(db)).pending, [])
  // Made here, never stored: the database is thrown away with the project.
  const auditKey = randomBytes(32)
  const vault = createVault({
    db,
    recoveryPublicKey: generateRecoveryKeyPair().publicKey,
    auditKey,
    searchKey: randomBytes(32),
    kdfPolicy: TEST_KDF_POLICY,
  })
  const password = () => `pw-${randomBytes(12).toString('base64url')}`
  const users = {}
  for (const name of ['alice', 'bob', 'carol']) {
    const pw = password()
    const user = await vault.registerUser({
      username: name,
      displayName: name,
      password: pw,
    })
    users[name] = { user, session: await vault.login(name, pw) }
  }
  const { alice, bob, carol } = users
  await assert.rejects(vault.login('alice', 'not-her-password'), AuthenticationError)

  const demographics = {
    fullName: 'Mary Seacole',
    dateOfBirth: '1805-11-23',
    nationalId: 'NHS 485 777 3456',
    phone: '+44 20 7946 0321',
  }
  const patientId = await alice.session.createPatient(demographics)
  await alice.session.addRecord(patientId, {
    kind: 'diagnosis',
    occurredOn: '2026-11-30',
    title: 'Cholera, suspected',
    code: 'A00.9',
  })
  await alice.session.grant(patientId, bob.user.id)

  const read = await bob.session.readPatient(patientId)
  assert.equal(read.id, patientId)
  for (const [field, value] of Object.entries(demographics))
    assert.equal(read[field], value)
  const [record] = await bob.session.listRecords(patientId)
  assert.equal(record?.title, 'Cholera, suspected')
  assert.equal(record?.code, 'A00.9')
  await assert.rejects(carol.session.readPatient(patientId), (e) => {
    assert.ok(e instanceof AccessDeniedError)
    assert.equal(e.code, 'ACCESS_DENIED')
    return true
  })

  const [row] = await db('patients').select('full_name_enc')
  assert.ok(
    !row.full_name_enc.toString('latin1').includes('Seacole'),
    'name stored in clear',
  )
  const chain = await verifyAuditChain(db, auditKey)
  assert.equal(chain.ok, true)
  assert.ok(chain.rows > 0)
  for (const { session } of Object.values(users)) session.close()
  say(
    `esm: ${database}: registered 3 users, bob read "${read.fullName}" after alice's grant, ` +
      `carol refused, audit chain of ${chain.rows} rows verified`,
  )
} finally {
  await db.destroy()
}
