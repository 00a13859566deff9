// The installed package used from CommonJS: require() of the library and of
// emr-vault/testing (ES modules, loaded by Node's require(esm), unflagged from
// Node 20.19), on a fresh database. Run by run.sh from the temporary project:
// node smoke.cjs <database>
const assert = require('node:assert/strict')
const { randomBytes } = require('node:crypto')
const { resolve } = require('node:path')
const emrVault = require('emr-vault')
const { startLocalMysql, TEST_KDF_POLICY } = require('emr-vault/testing')

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

async function main(database) {
  assert.match(database ?? '', /^smoke_\w+$/, 'usage: node smoke.cjs <database>')
  const server = await startLocalMysql({
    engine: process.env.EMR_VAULT_ENGINE || 'mysql',
    stateDir: resolve('.emr-vault'),
    database,
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
    const pw = { dana: password(), eve: password() }
    const dana = await vault.registerUser({
      username: 'dana',
      displayName: 'Dana (GP)',
      password: pw.dana,
    })
    const eve = await vault.registerUser({
      username: 'eve',
      displayName: 'Eve (cardiology)',
      password: pw.eve,
    })
    const danaSession = await vault.login('dana', pw.dana)
    await assert.rejects(vault.login('eve', pw.dana), AuthenticationError)
    const eveSession = await vault.login('eve', pw.eve)

    const patientId = await danaSession.createPatient({
      fullName: 'Florence Nightingale',
      dateOfBirth: '1820-05-12',
      email: 'f.nightingale@example.org',
    })
    await assert.rejects(eveSession.readPatient(patientId), (e) => {
      assert.ok(e instanceof AccessDeniedError)
      assert.equal(e.code, 'ACCESS_DENIED')
      return true
    })
    assert.deepEqual(await danaSession.grant(patientId, eve.id), { created: true })
    const read = await eveSession.readPatient(patientId)
    assert.equal(read.fullName, 'Florence Nightingale')
    assert.equal(read.dateOfBirth, '1820-05-12')
    assert.equal(read.email, 'f.nightingale@example.org')
    assert.equal(read.createdBy, dana.id)

    const chain = await verifyAuditChain(db, auditKey)
    assert.equal(chain.ok, true)
    danaSession.close()
    eveSession.close()
    say(
      `cjs: ${database}: eve refused, then granted by dana, read "${read.fullName}"; ` +
        `audit chain of ${chain.rows} rows verified`,
    )
  } finally {
    await db.destroy()
  }
}

main(process.argv[2]).catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exitCode = 1
})
