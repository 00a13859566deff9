import { expect } from '../support/chai.js'
import { AccessDeniedError, AuthenticationError } from '../../src/errors/index.js'
import { auditReport } from '../../src/services/audit.service.js'
import { verifyAuditChain } from '../../src/services/audit-verify.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  demoDemographics,
  registerTestUser,
  TEST_AUDIT_KEY,
  testVault,
} from '../support/vault-fixture.js'

describe('audit trail of the services (who, what, which patient, outcome)', () => {
  const demographics = demoDemographics()
  // A database of its own: the emergency set-up below seals every patient there
  // is, and the checks read the whole log and its chain.
  const own = useOwnDatabase()

  it('records every act in order, refusals included, with no PHI, and the chain verifies', async () => {
    const db = own.db()
    const { vault, recovery } = testVault({ db })
    const a = await registerTestUser(vault, 'at-alice')
    const b = await registerTestUser(vault, 'at-bob')
    const c = await registerTestUser(vault, 'at-carol')
    const e = await registerTestUser(vault, 'at-erin', ['clinician', 'emergency'])
    const ad = await registerTestUser(vault, 'at-admin', ['admin'])
    const alice = await vault.login(a.username, a.password)
    const bob = await vault.login(b.username, b.password)
    const carol = await vault.login(c.username, c.password)
    const erin = await vault.login(e.username, e.password)
    const admin = await vault.login(ad.username, ad.password)
    try {
      const patientId = await alice.createPatient(demographics)
      await alice.addRecord(patientId, {
        kind: 'note',
        occurredOn: '2026-04-01',
        title: 'Seen in clinic',
        body: 'Secret note text',
      })
      await alice.grant(patientId, bob.userId)
      await bob.listRecords(patientId)
      await expect(carol.readPatient(patientId)).to.be.rejectedWith(AccessDeniedError)
      await alice.revoke(patientId, bob.userId)
      await vault.setUpEmergencyAccess({ admin, recoveryPrivateKey: recovery.privateKey })
      await vault.grantEmergencyKey(
        { admin, recoveryPrivateKey: recovery.privateKey },
        erin.userId,
      )
      await erin.breakGlass(patientId, 'Collapsed at reception, needs allergy history')

      // Ids in the report are the UUID strings the rest of the API uses.
      const entries = await auditReport(db, { patientId })
      const lines = entries.map((x) => `${x.action}:${x.outcome}:${x.actorUserId}`)
      expect(lines).to.deep.equal([
        `patient.create:success:${alice.userId}`,
        `record.create:success:${alice.userId}`,
        `grant:success:${alice.userId}`,
        `record.list:success:${bob.userId}`,
        `patient.read:denied:${carol.userId}`,
        `revoke:success:${alice.userId}`,
        `break_glass.open:success:${erin.userId}`,
      ])
      expect(entries.every((x) => x.patientId === patientId)).to.equal(true)
      expect(entries[2]!.targetUserId).to.equal(bob.userId)
      // The revoke's rotation moved the chart state: its audit row carries it.
      expect(entries[5]!.detail).to.match(/^v1->v2 chart 3:[0-9a-f]{32}$/)
      expect(entries[6]!.reason).to.equal('Collapsed at reception, needs allergy history')

      // The only break-glass row of this database comes first, then the rest by seq.
      const glass = await auditReport(db, { breakGlassFirst: true, limit: 5 })
      expect(glass.map((x) => x.action)).to.deep.equal([
        'break_glass.open',
        'user.register',
        'user.register',
        'user.register',
        'user.register',
      ])
      expect(glass[1]!.seq).to.equal('1')

      // A refused login of a known user is recorded; a good one too.
      await expect(vault.login(a.username, 'not the password')).to.be.rejectedWith(
        AuthenticationError,
      )
      const logins = await auditReport(db, {
        actorUserId: alice.userId,
        action: 'user.login',
      })
      expect(logins.map((x) => x.outcome)).to.deep.equal(['success', 'denied'])

      // No PHI in the log: none of the demographics or the note.
      const raw = JSON.stringify(
        await db('audit_log').select('reason', 'detail', 'action'),
      )
      for (const value of [
        ...Object.values(demographics),
        'Seen in clinic',
        'Secret note text',
      ]) {
        expect(raw.includes(value), value).to.equal(false)
      }
      const verified = await verifyAuditChain(db, TEST_AUDIT_KEY)
      expect(verified.ok, JSON.stringify(verified)).to.equal(true)
    } finally {
      for (const s of [alice, bob, carol, erin, admin]) s.close()
    }
  })
})
