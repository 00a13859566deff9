import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { newRowId, rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import {
  AccessDeniedError,
  ConfigurationError,
  IntegrityError,
  NotFoundError,
  ValidationError,
} from '../../src/errors/index.js'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  testVault,
} from '../support/vault-fixture.js'

describe('break-glass', () => {
  // The emergency key is one per deployment and its set-up seals every patient
  // there is: on a database of its own the suite sets it up from nothing and
  // seals only its own patients.
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  let alice: Session
  let admin: Session
  let erin: Session
  let dave: Session
  let early: string

  before(async () => {
    db = own.db()
    ;({ vault, recovery } = testVault({ db }))
    const a = await registerTestUser(vault, 'bg-alice')
    const ad = await registerTestUser(vault, 'bg-admin', ['admin'])
    const e = await registerTestUser(vault, 'bg-erin', ['clinician', 'emergency'])
    const d = await registerTestUser(vault, 'bg-dave', ['clinician'])
    alice = await vault.login(a.username, a.password)
    admin = await vault.login(ad.username, ad.password)
    erin = await vault.login(e.username, e.password)
    dave = await vault.login(d.username, d.password)
    // A patient created before emergency access exists is sealed by the set-up.
    early = await alice.createPatient({
      fullName: 'Before Setup',
      dateOfBirth: '1950-01-01',
    })
    const authority = { admin, recoveryPrivateKey: recovery.privateKey }
    const setup = await vault.setUpEmergencyAccess(authority)
    expect(setup).to.deep.equal({ created: true, sealed: 1 })
    // Run again it finds nothing left to do.
    expect(await vault.setUpEmergencyAccess(authority)).to.deep.equal({
      created: false,
      sealed: 0,
    })
    await vault.grantEmergencyKey(authority, e.user.id)
    await expect(vault.grantEmergencyKey(authority, d.user.id)).to.be.rejectedWith(
      ValidationError,
      /emergency role/,
    )
  })

  after(() => {
    for (const s of [alice, admin, erin, dave]) s?.close()
  })

  it('opens a patient without a grant, after a reason, and only for a limited time', async () => {
    const patientId = await alice.createPatient(demoDemographics())
    await alice.addRecord(patientId, {
      kind: 'allergy',
      occurredOn: '2020-01-01',
      title: 'Anaphylaxis to peanuts',
    })
    await expect(erin.readPatient(patientId)).to.be.rejectedWith(AccessDeniedError)

    const { expiresAt } = await erin.breakGlass(
      patientId,
      'Unconscious in the ED, allergy history needed',
    )
    expect(expiresAt.getTime() - Date.now()).to.be.within(59 * 60_000, 61 * 60_000)
    expect((await erin.listRecords(patientId))[0]!.title).to.equal(
      'Anaphylaxis to peanuts',
    )
    const access = await alice.listAccess(patientId)
    expect(access.map((a) => a.userId)).to.include(erin.userId)

    // Expiry: move the grant's end into the past; access ends at the next statement.
    await db('patient_key_grants')
      .where({
        patient_id: rowIdFromString(patientId, 'p'),
        user_id: rowIdFromString(erin.userId, 'u'),
      })
      .update({ expires_at: new Date(Date.now() - 1000) })
    await expect(erin.readPatient(patientId)).to.be.rejectedWith(AccessDeniedError)
    expect((await alice.listAccess(patientId)).map((a) => a.userId)).not.to.include(
      erin.userId,
    )

    // It can be opened again (a new reason), and a rotation drops an expired grant.
    await erin.breakGlass(patientId, 'Second look: medication reconciliation', 5_000)
    expect((await erin.readPatient(patientId)).fullName).to.equal(
      DEMO_DEMOGRAPHICS.fullName,
    )
  })

  it('works for patients created before the set-up and survives rotation', async () => {
    await erin.breakGlass(early, 'Patient collapsed in waiting room, history needed')
    expect((await erin.readPatient(early)).fullName).to.equal('Before Setup')
    await alice.rotatePatientKey(early)
    expect((await erin.readPatient(early)).fullName).to.equal('Before Setup')
    const fresh = await alice.createPatient({
      fullName: 'After Rotation',
      dateOfBirth: '1960-06-06',
    })
    await alice.rotatePatientKey(fresh)
    await erin.breakGlass(fresh, 'Trauma call, needs blood group and allergies')
    expect((await erin.readPatient(fresh)).fullName).to.equal('After Rotation')
  })

  it('needs the emergency role, the emergency key, and a real reason', async () => {
    const patientId = await alice.createPatient(demoDemographics())
    await expect(
      dave.breakGlass(patientId, 'I would like to look please'),
    ).to.be.rejectedWith(AccessDeniedError, /emergency role/)
    await expect(erin.breakGlass(patientId, 'because')).to.be.rejectedWith(
      ValidationError,
      /"reason"/,
    )
    await expect(erin.breakGlass(patientId, '')).to.be.rejectedWith(
      ValidationError,
      /"reason"/,
    )
    await expect(erin.breakGlass(patientId, 'x'.repeat(501))).to.be.rejectedWith(
      ValidationError,
      /"reason"/,
    )
    await expect(
      alice.breakGlass(patientId, 'alice holds a grant already'),
    ).to.be.rejectedWith(AccessDeniedError)
    await expect(
      erin.breakGlass(patientId, 'Valid reason for access', 10),
    ).to.be.rejectedWith(ValidationError, /"durationMs"/)
    const noKey = await registerTestUser(vault, 'bg-nokey', ['emergency'])
    const s = await vault.login(noKey.username, noKey.password)
    try {
      await expect(
        s.breakGlass(patientId, 'Emergency without the key'),
      ).to.be.rejectedWith(AccessDeniedError, /emergency key/)
    } finally {
      s.close()
    }
    await expect(
      vault.setUpEmergencyAccess({
        admin: alice,
        recoveryPrivateKey: recovery.privateKey,
      }),
    ).to.be.rejectedWith(AccessDeniedError)
    await expect(
      vault.grantEmergencyKey(
        { admin, recoveryPrivateKey: Buffer.alloc(32, 7) },
        erin.userId,
      ),
    ).to.be.rejectedWith(ConfigurationError)
  })

  it('an id of no patient: refused as any id without the emergency key; NOT_FOUND, audited as such, for a holder', async () => {
    const missing = rowIdToString(newRowId())
    const reason = 'Unconscious in the ED, chart needed'
    const noKey = await registerTestUser(vault, 'bg-probe', ['emergency'])
    const s = await vault.login(noKey.username, noKey.password)
    try {
      // Without the key no patient is theirs to open: an id of none looks like any other.
      const existing = await alice.createPatient(demoDemographics())
      const answers = []
      for (const pid of [missing, existing]) {
        const err = (await s.breakGlass(pid, reason).catch((e: unknown) => e)) as Error
        expect(err).to.be.instanceOf(AccessDeniedError)
        answers.push(err.message)
      }
      expect(answers[0]).to.equal(answers[1])
    } finally {
      s.close()
    }
    // A holder may open every patient, so to them the id of none is NOT_FOUND:
    // one failure row says so.
    await expect(erin.breakGlass(missing, reason)).to.be.rejectedWith(NotFoundError)
    const rows = await db('audit_log')
      .where('patient_id', rowIdFromString(missing, 'patientId'))
      .orderBy('seq')
    expect(rows.map((r) => [r.action, r.outcome, r.detail])).to.deep.equal([
      ['break_glass.open', 'denied', 'access_denied'],
      ['break_glass.open', 'failure', 'not_found'],
    ])
  })

  it('refuses to seal to an emergency public key swapped in the database, and re-pins only what the recovery key proves', async () => {
    const [key] = await db('emergency_key').where('version', 1)
    const attacker = generateUserKeyPair().publicKey
    await db('emergency_key').where('version', 1).update({ public_key: attacker })
    try {
      await expect(
        alice.createPatient({ fullName: 'Swapped Key', dateOfBirth: '1999-09-09' }),
      ).to.be.rejectedWith(IntegrityError, /emergency public key/)
      await expect(
        vault.setUpEmergencyAccess({ admin, recoveryPrivateKey: recovery.privateKey }),
      ).to.be.rejectedWith(IntegrityError, /does not match its recovery seal/)
    } finally {
      await db('emergency_key').where('version', 1).update({ public_key: key.public_key })
    }
    // A key without a MAC (made before pinning existed) is pinned by the set-up.
    await db('emergency_key').where('version', 1).update({ public_key_mac: null })
    await expect(
      alice.createPatient({ fullName: 'Unpinned', dateOfBirth: '1999-09-09' }),
    ).to.be.rejectedWith(IntegrityError)
    await vault.setUpEmergencyAccess({ admin, recoveryPrivateKey: recovery.privateKey })
    const [after] = await db('emergency_key').where('version', 1)
    expect(after.public_key_mac).to.deep.equal(key.public_key_mac)
    expect(
      await alice.createPatient({ fullName: 'Pinned Again', dateOfBirth: '1999-09-09' }),
    ).to.be.a('string')
  })

  it('an emergency key taken away opens nothing more', async () => {
    const patientId = await alice.createPatient(demoDemographics())
    expect(await vault.revokeEmergencyKey(admin, erin.userId)).to.equal(true)
    await expect(
      erin.breakGlass(patientId, 'Trying after the key was withdrawn'),
    ).to.be.rejectedWith(AccessDeniedError, /emergency key/)
    await vault.grantEmergencyKey(
      { admin, recoveryPrivateKey: recovery.privateKey },
      erin.userId,
    )
  })

  it('a break-glass grant reads but cannot grant, revoke or rotate; an expired one can be replaced by a real grant', async () => {
    const patientId = await alice.createPatient(demoDemographics())
    await erin.breakGlass(patientId, 'Unconscious, no registered clinician on shift')
    expect((await erin.readPatient(patientId)).fullName).to.equal(
      DEMO_DEMOGRAPHICS.fullName,
    )
    for (const attempt of [
      () => erin.grant(patientId, dave.userId),
      () => erin.revoke(patientId, alice.userId),
      () => erin.rotatePatientKey(patientId),
    ]) {
      await expect(attempt()).to.be.rejectedWith(
        AccessDeniedError,
        /break-glass grant cannot/,
      )
    }
    await db('patient_key_grants')
      .where({
        patient_id: rowIdFromString(patientId, 'p'),
        user_id: rowIdFromString(erin.userId, 'u'),
      })
      .update({ expires_at: new Date(Date.now() - 1000) })
    expect(await alice.grant(patientId, erin.userId)).to.deep.equal({ created: true })
    expect((await erin.readPatient(patientId)).fullName).to.equal(
      DEMO_DEMOGRAPHICS.fullName,
    )
    await erin.grant(patientId, dave.userId) // a lasting grant may grant
  })
})
