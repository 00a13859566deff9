import { expect } from '../support/chai.js'
import type mysql from 'mysql2/promise'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { findSecrets, secretsOf, type NamedSecret } from '../support/secrets.js'
import { preparedEvidence, statementText } from '../support/statement-history.js'
import { observerConnection, testDb } from '../support/test-env.js'
import { registerTestUser, testPassword, testVault } from '../support/vault-fixture.js'

describe('grant, read and password change leave no key in performance_schema', () => {
  let vault: Vault
  let observer: mysql.Connection
  let alice: Session
  let a: { username: string; password: string }
  let b: { username: string; password: string; user: { id: string } }
  let patientId: string
  const secrets: NamedSecret[] = []

  before(async () => {
    ;({ vault } = testVault())
    observer = await observerConnection()
    a = await registerTestUser(vault, 'ps-alice')
    b = await registerTestUser(vault, 'ps-bob')
    alice = await vault.login(a.username, a.password)
    patientId = await alice.createPatient({
      fullName: 'Perf Schema',
      dateOfBirth: '1970-01-01',
      phone: '+1 555 0199',
    })
  })

  after(async () => {
    alice?.close()
    await observer?.end()
  })

  async function expectClean(step: string, mustMention: string): Promise<void> {
    const text = await statementText(observer)
    expect(
      text.toString('latin1'),
      `${step}: its statements are in the history`,
    ).to.include(await preparedEvidence(observer, mustMention))
    expect(findSecrets(text, secrets), step).to.deep.equal([])
    expect(text.includes(Buffer.from('Perf Schema')), `${step}: PHI`).to.equal(false)
  }

  it('after a grant', async () => {
    await alice.grant(patientId, b.user.id)
    secrets.push(...(await secretsOf(testDb(), a.username, a.password)))
    secrets.push(...(await secretsOf(testDb(), b.username, b.password)))
    expect(secrets.length).to.equal(14)
    await expectClean('grant', 'patient_key_grants')
  })

  it('after a read', async () => {
    const bob = await vault.login(b.username, b.password)
    try {
      expect((await bob.readPatient(patientId)).phone).to.equal('+1 555 0199')
    } finally {
      bob.close()
    }
    await expectClean('read', 'AES_DECRYPT')
  })

  it('after a password change', async () => {
    const next = testPassword()
    await vault.changePassword(b.username, b.password, next)
    secrets.push(...(await secretsOf(testDb(), b.username, next)))
    await expectClean('password change', 'wrapped_private_key')
  })
})
