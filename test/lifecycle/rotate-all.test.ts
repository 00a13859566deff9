import { expect } from '../support/chai.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

describe('rotate-all with the recovery key', () => {
  // rotate-all acts on every patient of the database: on its own database it
  // sees only the five made here, whatever other suites left in theirs.
  const own = useOwnDatabase()
  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  let alice: Session
  let admin: Session
  const patients: string[] = []

  before(async () => {
    ;({ vault, recovery } = testVault({ db: own.db() }))
    const a = await registerTestUser(vault, 'ra-alice')
    const ad = await registerTestUser(vault, 'ra-admin', ['admin'])
    alice = await vault.login(a.username, a.password)
    admin = await vault.login(ad.username, ad.password)
    for (let i = 0; i < 5; i++) {
      const id = await alice.createPatient({
        fullName: `Rotate All ${i}`,
        dateOfBirth: '1970-01-01',
      })
      await alice.addRecord(id, {
        kind: 'note',
        occurredOn: '2026-01-01',
        title: `note ${i}`,
        body: `body ${i}`,
      })
      patients.push(id)
    }
  })

  after(() => {
    alice?.close()
    admin?.close()
  })

  async function versions(): Promise<number[]> {
    return Promise.all(
      patients.map(async (id) => (await alice.readPatient(id)).keyVersion),
    )
  }

  it('stops cleanly when asked, leaves every patient readable, and a second call finishes the rest once', async () => {
    const before = await versions()
    const stop = new AbortController()
    const first = await vault.rotateAll(
      { admin, recoveryPrivateKey: recovery.privateKey },
      { signal: stop.signal, onProgress: (p) => p.rotated === 2 && stop.abort() },
    )
    expect(first).to.deep.include({ rotated: 2, resumed: false, finished: false })
    for (const [i, id] of patients.entries()) {
      expect((await alice.listRecords(id))[0]!.body).to.equal(`body ${i}`)
    }

    const progress: { rotated: number; total: number }[] = []
    const second = await vault.rotateAll(
      { admin, recoveryPrivateKey: recovery.privateKey },
      { onProgress: (p) => progress.push(p) },
    )
    expect(second).to.deep.equal({
      rotated: 3,
      resumed: true,
      finished: true,
      failed: [],
    })
    // The resumed run counts only the patients its cutoff still leaves.
    expect(progress).to.deep.equal([1, 2, 3].map((rotated) => ({ rotated, total: 3 })))
    // Every patient rotated exactly once across the two calls.
    expect(await versions()).to.deep.equal(before.map((v) => v + 1))
    for (const [i, id] of patients.entries()) {
      expect(
        (await alice.readRecord(id, (await alice.listRecords(id))[0]!.id)).body,
      ).to.equal(`body ${i}`)
    }

    // The run is finished: the next call starts a new one and rotates again.
    const third = await vault.rotateAll({
      admin,
      recoveryPrivateKey: recovery.privateKey,
    })
    expect(third).to.deep.equal({
      rotated: 5,
      resumed: false,
      finished: true,
      failed: [],
    })
    expect(await versions()).to.deep.equal(before.map((v) => v + 2))
  })
})
