import { expect } from '../support/chai.js'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { ConfigurationError } from '../../src/errors/index.js'
import { openVault } from '../../src/services/open-vault.js'
import { testDb } from '../support/test-env.js'
import { TEST_AUDIT_KEY, TEST_SEARCH_KEY } from '../support/vault-fixture.js'
import { rawKnex, testDatabase, withAccount, withGlobals } from './doctor-support.js'

const recovery = generateUserKeyPair()

function options(db = testDb()) {
  return {
    db,
    recoveryPublicKey: recovery.publicKey,
    auditKey: TEST_AUDIT_KEY,
    searchKey: TEST_SEARCH_KEY,
    kdfPolicy: TEST_KDF_POLICY,
  }
}

async function refusal(promise: Promise<unknown>): Promise<ConfigurationError> {
  const err = await promise.then(
    () => expect.fail('openVault should refuse'),
    (e: unknown) => e,
  )
  expect(err).to.be.instanceOf(ConfigurationError)
  return err as ConfigurationError
}

/** The ids listed in a refusal message. */
function failedIds(err: Error): string[] {
  const match = /failed on ([\w, ]+) \(/.exec(err.message)
  return match?.[1]?.split(', ') ?? []
}

/**
 * Production mode on the dev server: root is the application's account there,
 * and `app_account_privileges` FAILs in production mode (on MariaDB also
 * `watching_accounts`, for root's host variants). So openVault in production
 * mode always refuses as root on this server, which is the point; the success
 * case uses a least-privilege account, as production would.
 */
describe('doctor: openVault in production mode', () => {
  it('without production mode returns the vault, whatever the posture', async () => {
    const vault = await withGlobals({ general_log: 'ON' }, () =>
      openVault({ ...options(), production: false }),
    )
    expect(vault.registerUser).to.be.a('function')
  })

  it('out of production mode still refuses a raw knex pool, whose connections are not in aes-256-cbc', async () => {
    const raw = rawKnex()
    try {
      const err = await refusal(openVault({ ...options(raw), production: false }))
      expect(failedIds(err)).to.deep.equal(['block_encryption_mode'])
      expect(err.message).to.match(/^refusing to start: /)
    } finally {
      await raw.destroy()
    }
  })

  it('as root refuses, naming the failed checks by id and no value', async () => {
    const err = await refusal(openVault({ ...options(), production: true }))
    expect(failedIds(err)).to.include('app_account_privileges')
    expect(failedIds(err)).not.to.include('general_log')
    expect(err.message).to.match(/^refusing to start in production mode/)
    expect(err.message).not.to.include(recovery.publicKey.toString('hex').slice(0, 16))
  })

  it('with a least-privilege account starts, and refuses on general_log = ON', async () => {
    const grant = `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${testDatabase()}\`.* TO {user}`
    await withAccount([grant], async (app) => {
      const vault = await openVault({ ...options(app.db), production: true })
      expect(vault.login).to.be.a('function')

      const err = await withGlobals({ general_log: 'ON' }, () =>
        refusal(openVault({ ...options(app.db), production: true })),
      )
      expect(failedIds(err)).to.deep.equal(['general_log'])
    })
  })

  it('defaults production mode to NODE_ENV === production', async () => {
    const saved = process.env.NODE_ENV
    process.env.NODE_ENV = 'production'
    try {
      await refusal(openVault(options()))
    } finally {
      if (saved === undefined) delete process.env.NODE_ENV
      else process.env.NODE_ENV = saved
    }
    expect((await openVault(options())).findUser).to.be.a('function')
  })
})
