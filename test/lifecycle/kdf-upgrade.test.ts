import { expect } from '../support/chai.js'
import { deriveKek } from '../../src/crypto/kek.js'
import { OpenFailedError } from '../../src/crypto/open-failed-error.js'
import { openPatientKey } from '../../src/crypto/patient-key-seal.js'
import { unwrapPrivateKey } from '../../src/crypto/private-key-wrap.js'
import { rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
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

describe('password change with a new key pair (rekey)', () => {
  it('re-seals every grant to a new key pair: the old wrapped key and old password open nothing', async () => {
    const { vault } = testVault()
    const owner = await registerTestUser(vault, 'rk-owner')
    const u = await registerTestUser(vault, 'rk-user')
    const ownerSession = await vault.login(owner.username, owner.password)
    const patients = [
      await ownerSession.createPatient({
        fullName: 'Rekey One',
        dateOfBirth: '1980-01-01',
      }),
      await ownerSession.createPatient({
        fullName: 'Rekey Two',
        dateOfBirth: '1980-02-02',
      }),
    ]
    for (const p of patients) await ownerSession.grant(p, u.user.id)
    ownerSession.close()
    const db = testDb()
    const [before] = await db('users').where('username', u.username)

    await vault.changePassword(u.username, u.password, 'a-brand-new-password', {
      rekey: true,
    })
    const [after] = await db('users').where('username', u.username)
    expect(after.public_key).not.to.deep.equal(before.public_key)

    // The old wrapped private key, opened with the old password, no longer opens the grants.
    const oldKek = await deriveKek(u.password, before.kdf_salt, {
      N: 2 ** before.kdf_log_n,
      r: before.kdf_r,
      p: before.kdf_p,
    })
    const oldPrivate = unwrapPrivateKey(
      before.wrapped_private_key,
      oldKek,
      rowIdToString(before.id),
    )
    for (const p of patients) {
      const [grant] = await db('patient_key_grants').where({
        patient_id: rowIdFromString(p, 'p'),
        user_id: before.id,
      })
      await expect(
        openPatientKey(grant.sealed_key, oldPrivate, {
          patientId: p,
          keyVersion: grant.key_version,
          recipientId: u.user.id,
        }),
      ).to.be.rejectedWith(OpenFailedError)
    }
    const session = await vault.login(u.username, 'a-brand-new-password')
    try {
      expect(
        (await Promise.all(patients.map((p) => session.readPatient(p)))).map(
          (x) => x.fullName,
        ),
      ).to.deep.equal(['Rekey One', 'Rekey Two'])
    } finally {
      session.close()
    }
  })
})
