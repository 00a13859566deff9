import { expect } from '../support/chai.js'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import {
  AccessDeniedError,
  AuthenticationError,
  ConfigurationError,
} from '../../src/errors/index.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import {
  demoDemographics,
  registerTestUser,
  testPassword,
  testVault,
} from '../support/vault-fixture.js'

describe('recovery with the organisation recovery key', () => {
  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  let alice: Session
  let admin: Session
  let bob: { username: string; password: string; user: { id: string } }

  before(async () => {
    ;({ vault, recovery } = testVault())
    const a = await registerTestUser(vault, 'rc-alice')
    const ad = await registerTestUser(vault, 'rc-admin', ['admin'])
    bob = await registerTestUser(vault, 'rc-bob')
    alice = await vault.login(a.username, a.password)
    admin = await vault.login(ad.username, ad.password)
  })

  after(() => {
    alice?.close()
    admin?.close()
  })

  it('a user who forgot the password gets access back, and only to what they had', async () => {
    const shared = await alice.createPatient(demoDemographics())
    const notShared = await alice.createPatient({
      fullName: 'Not Shared',
      dateOfBirth: '1980-05-05',
    })
    await alice.grant(shared, bob.user.id)
    await alice.addRecord(shared, {
      kind: 'note',
      occurredOn: '2026-03-01',
      title: 'shared note',
      body: 'visible to bob',
    })

    const newPassword = testPassword()
    const result = await vault.recoverUser(
      { admin, recoveryPrivateKey: recovery.privateKey },
      bob.username,
      newPassword,
    )
    expect(result).to.deep.equal({ patients: 1 })

    await expect(vault.login(bob.username, bob.password)).to.be.rejectedWith(
      AuthenticationError,
    )
    const recovered = await vault.login(bob.username, newPassword)
    try {
      expect((await recovered.listRecords(shared))[0]!.body).to.equal('visible to bob')
      expect(await recovered.listAccessiblePatients()).to.deep.equal([shared])
      await expect(recovered.readPatient(notShared)).to.be.rejectedWith(AccessDeniedError)
    } finally {
      recovered.close()
    }
  })

  it('a patient with no remaining grantee is restored to a user', async () => {
    const orphan = await alice.createPatient({
      fullName: 'Orphaned Chart',
      dateOfBirth: '1944-04-04',
    })
    await alice.addRecord(orphan, {
      kind: 'note',
      occurredOn: '2026-02-02',
      title: 'still here',
    })
    await alice.revoke(orphan, alice.userId) // the last grantee leaves: nobody can open it now
    await expect(alice.readPatient(orphan)).to.be.rejectedWith(AccessDeniedError)

    const carol = await registerTestUser(vault, 'rc-carol')
    const restored = await vault.restorePatientAccess(
      { admin, recoveryPrivateKey: recovery.privateKey },
      orphan,
      carol.user.id,
    )
    expect(restored).to.deep.equal({ created: true })
    const session = await vault.login(carol.username, carol.password)
    try {
      expect((await session.readPatient(orphan)).fullName).to.equal('Orphaned Chart')
      expect((await session.listRecords(orphan))[0]!.title).to.equal('still here')
    } finally {
      session.close()
    }
  })

  it('refuses a recovery key that does not match, and a caller without the admin role', async () => {
    const wrong = generateUserKeyPair().privateKey
    await expect(
      vault.recoverUser(
        { admin, recoveryPrivateKey: wrong },
        bob.username,
        testPassword(),
      ),
    ).to.be.rejectedWith(
      ConfigurationError,
      /does not match the configured recovery public key/,
    )
    await expect(
      vault.recoverUser(
        { admin: alice, recoveryPrivateKey: recovery.privateKey },
        bob.username,
        testPassword(),
      ),
    ).to.be.rejectedWith(AccessDeniedError, /admin role/)
    await expect(
      vault.restorePatientAccess(
        { admin, recoveryPrivateKey: Buffer.alloc(16) },
        alice.userId,
        alice.userId,
      ),
    ).to.be.rejectedWith(ConfigurationError, /32 bytes/)
  })

  it('an administrator disabled while logged in can no longer recover (roles are read at the act)', async () => {
    const other = await registerTestUser(vault, 'rc-admin2', ['admin'])
    const session = await vault.login(other.username, other.password)
    try {
      await vault.disableUser(other.user.id)
      await expect(
        vault.recoverUser(
          { admin: session, recoveryPrivateKey: recovery.privateKey },
          bob.username,
          testPassword(),
        ),
      ).to.be.rejectedWith(AccessDeniedError, /admin role/)
    } finally {
      session.close()
    }
  })
})
