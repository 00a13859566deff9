import { expect } from '../support/chai.js'
import type { Session } from '../../src/services/session.js'
import { readVectorJson } from '../support/vectors.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

/** Big List of Naughty Strings (minimaxir/big-list-of-naughty-strings blns.json, MIT). */
const BLNS = readVectorJson<string[]>('blns/blns.json')

describe('every naughty string round-trips exactly through an encrypted field', () => {
  let session: Session

  before(async () => {
    const { vault } = testVault()
    const u = await registerTestUser(vault, 'blns')
    session = await vault.login(u.username, u.password)
  })

  after(() => session?.close())

  it('has the list at hand', () => {
    expect(BLNS.length).to.be.greaterThan(500)
    expect(BLNS).to.include('')
    expect(BLNS.some((s) => s.includes("' OR 1=1"))).to.equal(true)
  })

  it('stores each as a record body and reads it back byte for byte', async () => {
    const pid = await session.createPatient({
      fullName: 'Naughty Strings',
      dateOfBirth: '2000-02-29',
    })
    for (const [i, s] of BLNS.entries()) {
      await session.addRecord(pid, {
        kind: 'note',
        occurredOn: '2026-01-01',
        title: `blns ${i}`,
        body: s,
      })
    }
    const chart = await session.listRecords(pid)
    expect(chart).to.have.length(BLNS.length)
    const byTitle = new Map(chart.map((r) => [r.title, r.body]))
    BLNS.forEach((s, i) => expect(byTitle.get(`blns ${i}`), `blns ${i}`).to.equal(s))
  })

  it('stores non-blank ones as a patient name too', async () => {
    const names = BLNS.filter(
      (s) => s.trim() !== '' && Buffer.byteLength(s) <= 800,
    ).slice(0, 120)
    for (const fullName of names) {
      const pid = await session.createPatient({ fullName, dateOfBirth: '1999-12-31' })
      expect((await session.readPatient(pid)).fullName).to.equal(fullName)
    }
  })
})
