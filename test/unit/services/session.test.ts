import { randomBytes } from 'node:crypto'
import knex from 'knex'
import { ValidationError } from '../../../src/errors/index.js'
import { Session, unlockedUserOf } from '../../../src/services/session.js'
import { UnlockedUser } from '../../../src/services/unlocked-user.js'
import { createVault } from '../../../src/services/vault.js'
import type { VaultContext } from '../../../src/services/vault-context.js'
import { expect } from '../../support/chai.js'

describe('Session facade and its unlocked user', () => {
  let now = 0
  // Never connected: every call below is refused or answered before any query.
  const db = knex({ client: 'mysql2' })
  const ctx = {
    db,
    keyCacheTtlMs: 1000,
    sessionIdleMs: 5000,
    now: () => now,
  } as unknown as VaultContext
  const unlocked = () =>
    new UnlockedUser(
      ctx,
      {
        id: '00000000-0000-4000-8000-000000000001',
        idBytes: Buffer.alloc(16, 1),
        username: 'alice',
        roles: ['clinician'],
        publicKey: Buffer.alloc(32, 2),
      },
      randomBytes(32),
    )

  after(() => db.destroy())

  it('shows the user, not the keys, and closes the unlocked user', () => {
    const user = unlocked()
    const session = new Session(ctx, user)
    expect(session.userId).to.equal(user.userId)
    expect(session.username).to.equal('alice')
    expect(session.roles).to.deep.equal(['clinician'])
    expect(session).not.to.have.property('privateKey')
    expect(session).not.to.have.property('keyCache')
    expect(unlockedUserOf(session, 'admin')).to.equal(user)
    session.close()
    expect(user.isOpen).to.equal(false)
    expect(session.isOpen).to.equal(false)
  })

  it('expires the private key after the idle time', () => {
    now = 0
    const user = unlocked()
    now = 5001
    expect(() => user.privateKey()).to.throw('session is closed or expired')
    expect(user.isOpen).to.equal(false)
  })

  it('refuses, as a rejection, an admin that is not a session from login()', async () => {
    const vault = createVault({
      db,
      recoveryPublicKey: randomBytes(32),
      auditKey: randomBytes(32),
      searchKey: randomBytes(32),
    })
    const fake = { userId: 'x' } as unknown as Session
    await expect(vault.disableUser('x', fake))
      .to.be.rejectedWith(ValidationError)
      .and.eventually.have.property('field', 'admin')
    await expect(
      vault.recoverUser(
        { admin: fake, recoveryPrivateKey: randomBytes(32) },
        'bob',
        'pw',
      ),
    )
      .to.be.rejectedWith(ValidationError)
      .and.eventually.have.property('field', 'authority.admin')
  })
})
