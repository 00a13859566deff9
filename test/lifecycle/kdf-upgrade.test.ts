import { expect } from '../support/chai.js'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { bcryptCostOf } from '../../src/crypto/password-verifier.js'
import { testDb } from '../support/test-env.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

describe('KDF upgrade on login', () => {
  it('re-derives and re-wraps with the current policy when the stored parameters are below it', async () => {
    const { vault: old, recovery } = testVault()
    const u = await registerTestUser(old, 'kdf')
    const db = testDb()
    const [before] = await db('users').where('username', u.username)
    expect([before.kdf_log_n, bcryptCostOf(before.password_verifier)]).to.deep.equal([
      Math.log2(TEST_KDF_POLICY.scrypt.N),
      TEST_KDF_POLICY.bcryptCost,
    ])
    const session = await old.login(u.username, u.password)
    const patientId = await session.createPatient({
      fullName: 'Kdf Upgrade',
      dateOfBirth: '2001-01-01',
    })
    session.close()

    const stronger = { scrypt: { N: 2 ** 12, r: 8, p: 1 }, bcryptCost: 6 }
    const { vault } = testVault({
      kdfPolicy: stronger,
      recoveryPublicKey: recovery.publicKey,
    })
    ;(await vault.login(u.username, u.password)).close()
    const [after] = await db('users').where('username', u.username)
    expect([
      after.kdf_log_n,
      after.kdf_r,
      after.kdf_p,
      bcryptCostOf(after.password_verifier),
    ]).to.deep.equal([12, 8, 1, 6])
    expect(after.kdf_salt).not.to.deep.equal(before.kdf_salt)
    expect(after.public_key).to.deep.equal(before.public_key)

    // Same password, same private key: the patient still opens; nothing changes on the next login.
    const again = await vault.login(u.username, u.password)
    try {
      expect((await again.readPatient(patientId)).fullName).to.equal('Kdf Upgrade')
    } finally {
      again.close()
    }
    const [third] = await db('users').where('username', u.username)
    expect(third.wrapped_private_key).to.deep.equal(after.wrapped_private_key)
  })
})
