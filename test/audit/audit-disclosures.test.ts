import type { Knex } from 'knex'
import { ValidationError } from '../../src/errors/index.js'
import { disclosuresOf, type Disclosure } from '../../src/services/audit-disclosures.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { expect } from '../support/chai.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  demoDemographics,
  registerTestUser,
  testVault,
} from '../support/vault-fixture.js'

/**
 * The accounting of one patient's disclosures, from its audit rows: who opened
 * the chart, when, and under which access (creator, a grant and who gave it,
 * break-glass and its reason). On a database of its own: break-glass needs the
 * deployment's emergency key set up.
 */
describe('audit: accounting of disclosures per patient', () => {
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let alice: Session
  let bob: Session
  let erin: Session
  let patientId: string

  const all = async (opts: Parameters<typeof disclosuresOf>[2] = {}) => {
    const out: Disclosure[] = []
    for await (const d of disclosuresOf(db, patientId, opts)) out.push(d)
    return out
  }

  before(async () => {
    db = own.db()
    let recovery: { publicKey: Buffer; privateKey: Buffer }
    ;({ vault, recovery } = testVault({ db }))
    const a = await registerTestUser(vault, 'dc-alice', ['clinician'])
    const b = await registerTestUser(vault, 'dc-bob', ['clinician'])
    const e = await registerTestUser(vault, 'dc-erin', ['clinician', 'emergency'])
    const ad = await registerTestUser(vault, 'dc-admin', ['admin'])
    alice = await vault.login(a.username, a.password)
    bob = await vault.login(b.username, b.password)
    erin = await vault.login(e.username, e.password)
    const admin = await vault.login(ad.username, ad.password)
    const authority = { admin, recoveryPrivateKey: recovery.privateKey }
    await vault.setUpEmergencyAccess(authority)
    await vault.grantEmergencyKey(authority, e.user.id)
    admin.close()

    patientId = await alice.createPatient(demoDemographics())
    await alice.readPatient(patientId) // 1: as creator
    await alice.grant(patientId, bob.userId)
    await bob.readChart(patientId) // 2: under alice's grant
    await alice.revoke(patientId, bob.userId)
    await bob.readPatient(patientId).catch(() => undefined) // refused: not a disclosure
    await erin.breakGlass(patientId, 'Unconscious in the ED, allergy history needed')
    await erin.listRecords(patientId) // 3: break-glass
  })

  after(() => {
    for (const s of [alice, bob, erin]) s?.close()
  })

  it('lists every opening in order, each with the access it was made under', async () => {
    const found = await all()
    expect(found.map((d) => [d.userId, d.action, d.basis.kind])).to.deep.equal([
      [alice.userId, 'patient.read', 'creator'],
      [bob.userId, 'chart.read', 'grant'],
      [erin.userId, 'record.list', 'break-glass'],
    ])
    expect(found[1]!.basis).to.deep.include({ kind: 'grant', grantedBy: alice.userId })
    expect(found[2]!.basis).to.deep.include({
      kind: 'break-glass',
      reason: 'Unconscious in the ED, allergy history needed',
    })
    for (let i = 1; i < found.length; i++)
      expect(BigInt(found[i]!.seq) > BigInt(found[i - 1]!.seq)).to.equal(true)
  })

  it('a window reports only the openings in it, still with the access granted before it', async () => {
    const found = await all()
    const since = found[1]!.at
    const window = await all({ from: since, to: new Date(found[2]!.at.getTime()) })
    expect(window.map((d) => d.seq)).to.deep.equal(
      found.filter((d) => d.at >= since && d.at < found[2]!.at).map((d) => d.seq),
    )
    expect(window.every((d) => d.basis.kind !== 'unknown')).to.equal(true)
  })

  it('a patient with no openings has none; bad options are typed errors', async () => {
    const other = await alice.createPatient(demoDemographics())
    const none: Disclosure[] = []
    for await (const d of disclosuresOf(db, other)) none.push(d)
    expect(none).to.deep.equal([])
    for (const [opts, field] of [
      [{ from: 'yesterday' }, 'from'],
      [{ to: new Date('nope') }, 'to'],
      [{ since: new Date() }, 'options.since'],
    ] as const) {
      const err = await disclosuresOf(db, patientId, opts as never)
        .next()
        .catch((e: unknown) => e)
      expect(err, field).to.be.instanceOf(ValidationError)
    }
  })
})
