import { expect } from '../support/chai.js'
import type mysql from 'mysql2/promise'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { findSecrets, secretsOf } from '../support/secrets.js'
import { observerConnection, testDb } from '../support/test-env.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

/** Every row of every table of the schema, read with plain SELECTs as bytes. */
async function rawDump(observer: mysql.Connection): Promise<Buffer> {
  const [tables] = await observer.query(
    'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()',
  )
  const chunks: Buffer[] = []
  for (const { t } of tables as { t: string }[]) {
    const [rows] = await observer.query(`SELECT * FROM \`${t}\``)
    for (const row of rows as Record<string, unknown>[]) {
      for (const value of Object.values(row)) {
        chunks.push(
          Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8'),
          Buffer.of(0),
        )
      }
    }
  }
  return Buffer.concat(chunks)
}

describe('at rest: a raw dump holds no PHI and no key', () => {
  let vault: Vault
  let observer: mysql.Connection
  let session: Session
  let creds: { username: string; password: string }
  // Distinctive values, so that a hit cannot be chance.
  const phi = {
    fullName: 'Zebulon Quixote-Marchbanks',
    dateOfBirth: '1961-07-23',
    nationalId: 'QX-771-204-993',
    address: '221B Baker Street, Marylebone, London',
    phone: '+44 7700 900461',
    email: 'zebulon.quixote@example.net',
  }
  const note =
    'Patient reports intermittent chest pain radiating to the left arm (Zebulon)'

  before(async () => {
    ;({ vault } = testVault())
    observer = await observerConnection()
    const a = await registerTestUser(vault, 'dumper')
    const b = await registerTestUser(vault, 'reader')
    creds = a
    session = await vault.login(a.username, a.password)
    const pid = await session.createPatient(phi)
    await session.addRecord(pid, {
      kind: 'note',
      occurredOn: '2026-10-01',
      title: 'Chest pain',
      body: note,
    })
    await session.grant(pid, b.user.id)
  })

  after(async () => {
    session?.close()
    await observer?.end()
  })

  it('contains none of the plaintext written', async () => {
    const dump = await rawDump(observer)
    expect(dump.length).to.be.greaterThan(1000)
    for (const value of [
      ...Object.values(phi),
      note,
      'Chest pain',
      'Zebulon',
      '1961-07-23',
    ]) {
      expect(dump.includes(Buffer.from(value, 'utf8')), value).to.equal(false)
    }
    // Control: the username, which is stored in clear, is found by the same search.
    expect(dump.includes(Buffer.from(creds.username))).to.equal(true)
  })

  it('contains none of the unwrapped keys (KEK, private key, patient key, subkeys, pads)', async () => {
    const secrets = await secretsOf(testDb(), creds.username, creds.password)
    expect(secrets.length).to.equal(2 + 5)
    expect(findSecrets(await rawDump(observer), secrets)).to.deep.equal([])
  })
})
