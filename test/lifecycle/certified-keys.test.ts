import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import { newRowId, rowIdFromString } from '../../src/db/row-id.js'
import { AccessDeniedError, IntegrityError } from '../../src/errors/index.js'
import * as certificateMigration from '../../src/migrations/20261202_0004_user_key_certificates.js'
import { verifyAuditChain } from '../../src/services/audit-verify.js'
import { runDoctor } from '../../src/services/doctor.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  registerTestUser,
  TEST_AUDIT_KEY,
  testPassword,
  testVault,
} from '../support/vault-fixture.js'

/** A patient's grant rows and key version, to show a refusal wrote nothing. */
async function keyState(db: Knex, patientId: string): Promise<unknown> {
  const pid = rowIdFromString(patientId, 'patientId')
  const [patient] = await db('patients').select('current_key_version').where('id', pid)
  const grants = await db('patient_key_grants')
    .select('key_version', 'user_id', 'sealed_key', 'expires_at')
    .where('patient_id', pid)
    .orderBy('user_id')
  const recovery = await db('patient_key_recovery_seals')
    .select('key_version', 'sealed_key')
    .where('patient_id', pid)
  return { patient, grants, recovery }
}

async function userRow(db: Knex, userId: string) {
  const [row] = await db('users').where('id', rowIdFromString(userId, 'userId'))
  return row as {
    public_key: Buffer
    public_key_version: number
    public_key_certificate: Buffer | null
  }
}

/** Sets columns of a user's row in raw SQL, as a database writer without keys would. */
async function writeUser(
  db: Knex,
  userId: string,
  columns: Record<string, unknown>,
): Promise<void> {
  await db('users').where('id', rowIdFromString(userId, 'userId')).update(columns)
}

describe('certified public keys', () => {
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  let alice: Session
  let admin: Session
  let bob: { id: string; username: string; password: string }
  let carol: { id: string; username: string; password: string }

  before(async () => {
    db = own.db()
    ;({ vault, recovery } = testVault({ db }))
    const a = await registerTestUser(vault, 'ck-alice')
    const ad = await registerTestUser(vault, 'ck-admin', ['admin'])
    const b = await registerTestUser(vault, 'ck-bob', ['clinician', 'emergency'])
    const c = await registerTestUser(vault, 'ck-carol')
    alice = await vault.login(a.username, a.password)
    admin = await vault.login(ad.username, ad.password)
    bob = { id: b.user.id, username: b.username, password: b.password }
    carol = { id: c.user.id, username: c.username, password: c.password }
  })

  after(() => {
    alice?.close()
    admin?.close()
  })

  /** Swaps bob's public key for an attacker's for the duration of `work`. */
  async function withBobKeySwapped(work: () => Promise<void>): Promise<void> {
    const saved = await userRow(db, bob.id)
    await writeUser(db, bob.id, { public_key: generateUserKeyPair().publicKey })
    try {
      await work()
    } finally {
      await writeUser(db, bob.id, { public_key: saved.public_key })
    }
  }

  it('certifies the key of a registered user at version 1', async () => {
    const row = await userRow(db, bob.id)
    expect(row.public_key_version).to.equal(1)
    expect(row.public_key_certificate).to.be.instanceOf(Buffer).with.length(32)
  })

  it('refuses a grant to a user whose public key was swapped in raw SQL, and writes nothing', async () => {
    const patient = await alice.createPatient({
      fullName: 'Swap Target',
      dateOfBirth: '1980-02-02',
    })
    const before = await keyState(db, patient)
    await withBobKeySwapped(async () => {
      const refusal = await alice.grant(patient, bob.id).then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(refusal).to.be.instanceOf(IntegrityError)
      expect((refusal as IntegrityError).code).to.equal('INTEGRITY')
      expect((refusal as Error).message).to.match(/does not match its certificate/)
      expect(await keyState(db, patient)).to.deep.equal(before)
    })
    // Put back as it was, bob is granted again.
    expect(await alice.grant(patient, bob.id)).to.deep.equal({ created: true })
    const session = await vault.login(bob.username, bob.password)
    try {
      expect((await session.readPatient(patient)).fullName).to.equal('Swap Target')
    } finally {
      session.close()
    }
  })

  it('refuses a rotation while one grantee key is swapped, writing nothing; a revoke of that grantee still goes through', async () => {
    const patient = await alice.createPatient({
      fullName: 'Rotate Target',
      dateOfBirth: '1981-03-03',
    })
    await alice.grant(patient, bob.id)
    await alice.grant(patient, carol.id)
    const stranger = await registerTestUser(vault, 'ck-stranger')
    await withBobKeySwapped(async () => {
      const before = await keyState(db, patient)
      await expect(alice.rotatePatientKey(patient)).to.be.rejectedWith(
        IntegrityError,
        /does not match its certificate/,
      )
      // A user without a grant learns nothing of the grantees: refused as ever.
      const outsider = await vault.login(stranger.username, stranger.password)
      try {
        await expect(outsider.rotatePatientKey(patient)).to.be.rejectedWith(
          AccessDeniedError,
        )
      } finally {
        outsider.close()
      }
      // Revoking another grantee would re-seal to bob: refused the same way.
      await expect(alice.revoke(patient, carol.id)).to.be.rejectedWith(
        IntegrityError,
        /does not match its certificate/,
      )
      // rotate-all reports the patient (and any other bob holds) and goes on.
      const run = await vault.rotateAll({
        admin,
        recoveryPrivateKey: recovery.privateKey,
      })
      expect(run.finished).to.equal(false)
      expect(run.failed).to.include(patient)
      expect(await keyState(db, patient)).to.deep.equal(before)
      // Revoking bob himself needs no seal to his key: it goes through.
      const result = await alice.revoke(patient, bob.id)
      expect(result.toVersion).to.equal(result.fromVersion + 1)
    })
    expect((await alice.readPatient(patient)).fullName).to.equal('Rotate Target')
    const grantees = (await alice.listAccess(patient)).map((e) => e.userId)
    expect(grantees).to.include(carol.id).and.not.include(bob.id)
    // With bob's key back, the run left open finishes.
    expect(
      await vault.rotateAll({ admin, recoveryPrivateKey: recovery.privateKey }),
    ).to.deep.include({ finished: true, failed: [] })
  })

  it("refuses a certificate copied with another user's key", async () => {
    const patient = await alice.createPatient({
      fullName: 'Copy Target',
      dateOfBirth: '1982-04-04',
    })
    const saved = await userRow(db, bob.id)
    const carolRow = await userRow(db, carol.id)
    await writeUser(db, bob.id, {
      public_key: carolRow.public_key,
      public_key_certificate: carolRow.public_key_certificate,
    })
    try {
      const before = await keyState(db, patient)
      await expect(alice.grant(patient, bob.id)).to.be.rejectedWith(
        IntegrityError,
        /does not match its certificate/,
      )
      expect(await keyState(db, patient)).to.deep.equal(before)
    } finally {
      await writeUser(db, bob.id, {
        public_key: saved.public_key,
        public_key_certificate: saved.public_key_certificate,
      })
    }
  })

  it('a rekey certifies the new key at the next version; the old key and certificate put back are refused', async () => {
    const d = await registerTestUser(vault, 'ck-dave')
    const old = await userRow(db, d.user.id)
    const password = testPassword()
    await vault.changePassword(d.username, d.password, password, { rekey: true })
    const now = await userRow(db, d.user.id)
    expect(now.public_key_version).to.equal(old.public_key_version + 1)
    expect(now.public_key).not.to.deep.equal(old.public_key)
    expect(now.public_key_certificate).not.to.deep.equal(old.public_key_certificate)

    const patient = await alice.createPatient({
      fullName: 'Replay Target',
      dateOfBirth: '1983-05-05',
    })
    await writeUser(db, d.user.id, {
      public_key: old.public_key,
      public_key_certificate: old.public_key_certificate,
    })
    try {
      const before = await keyState(db, patient)
      await expect(alice.grant(patient, d.user.id)).to.be.rejectedWith(
        IntegrityError,
        /does not match its certificate/,
      )
      expect(await keyState(db, patient)).to.deep.equal(before)
    } finally {
      await writeUser(db, d.user.id, {
        public_key: now.public_key,
        public_key_certificate: now.public_key_certificate,
      })
    }
    expect(await alice.grant(patient, d.user.id)).to.deep.equal({ created: true })
  })

  it('recovery gives a new certified key version, and restores access only to a certified key', async () => {
    const e = await registerTestUser(vault, 'ck-erin')
    const patient = await alice.createPatient({
      fullName: 'Recovery Target',
      dateOfBirth: '1984-06-06',
    })
    await alice.grant(patient, e.user.id)
    const authority = { admin, recoveryPrivateKey: recovery.privateKey }
    const password = testPassword()
    expect(await vault.recoverUser(authority, e.username, password)).to.deep.equal({
      patients: 1,
    })
    const row = await userRow(db, e.user.id)
    expect(row.public_key_version).to.equal(2)
    const session = await vault.login(e.username, password)
    try {
      expect((await session.readPatient(patient)).fullName).to.equal('Recovery Target')
    } finally {
      session.close()
    }

    const other = await alice.createPatient({
      fullName: 'Restore Target',
      dateOfBirth: '1985-07-07',
    })
    await writeUser(db, e.user.id, { public_key: generateUserKeyPair().publicKey })
    try {
      const before = await keyState(db, other)
      await expect(
        vault.restorePatientAccess(authority, other, e.user.id),
      ).to.be.rejectedWith(IntegrityError, /does not match its certificate/)
      expect(await keyState(db, other)).to.deep.equal(before)
    } finally {
      await writeUser(db, e.user.id, { public_key: row.public_key })
    }
  })

  it('refuses to hand the emergency key to a holder whose public key was swapped', async () => {
    const authority = { admin, recoveryPrivateKey: recovery.privateKey }
    await vault.setUpEmergencyAccess(authority)
    await withBobKeySwapped(async () => {
      await expect(vault.grantEmergencyKey(authority, bob.id)).to.be.rejectedWith(
        IntegrityError,
        /does not match its certificate/,
      )
      expect(
        await db('emergency_key_holders').where(
          'user_id',
          rowIdFromString(bob.id, 'userId'),
        ),
      ).to.deep.equal([])
    })
    await vault.grantEmergencyKey(authority, bob.id)
  })

  it('refuses a rotation while the emergency public key is swapped, writing nothing', async () => {
    const patient = await alice.createPatient({
      fullName: 'Emergency Target',
      dateOfBirth: '1986-08-08',
    })
    const [key] = await db('emergency_key').where('version', 1)
    await db('emergency_key')
      .where('version', 1)
      .update({ public_key: generateUserKeyPair().publicKey })
    try {
      const before = await keyState(db, patient)
      await expect(alice.rotatePatientKey(patient)).to.be.rejectedWith(
        IntegrityError,
        /emergency public key/,
      )
      expect(await keyState(db, patient)).to.deep.equal(before)
    } finally {
      await db('emergency_key').where('version', 1).update({ public_key: key.public_key })
    }
    expect((await alice.rotatePatientKey(patient)).toVersion).to.equal(2)
  })

  it('refuses a recovery seal whose stored fingerprint names another recovery key', async () => {
    const patient = await alice.createPatient({
      fullName: 'Fingerprint Target',
      dateOfBirth: '1987-09-09',
    })
    const pid = rowIdFromString(patient, 'patientId')
    const [seal] = await db('patient_key_recovery_seals').where('patient_id', pid)
    await db('patient_key_recovery_seals')
      .where('patient_id', pid)
      .update({ recovery_key_fingerprint: Buffer.alloc(32, 7) })
    try {
      await expect(
        vault.restorePatientAccess(
          { admin, recoveryPrivateKey: recovery.privateKey },
          patient,
          carol.id,
        ),
      ).to.be.rejectedWith(IntegrityError, /another recovery key/)
    } finally {
      await db('patient_key_recovery_seals')
        .where('patient_id', pid)
        .update({ recovery_key_fingerprint: seal.recovery_key_fingerprint })
    }
  })
})

describe('certified public keys: a database from before certificates', () => {
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  const people: { id: string; username: string; password: string }[] = []
  let patient: string
  let admin: { id: string; username: string; password: string }

  before(async () => {
    db = own.db()
    ;({ vault } = testVault({ db }))
    for (const [base, roles] of [
      ['old-alice', ['clinician']],
      ['old-bob', ['clinician']],
      ['old-admin', ['admin']],
    ] as const) {
      const u = await registerTestUser(vault, base, [...roles])
      people.push({ id: u.user.id, username: u.username, password: u.password })
    }
    admin = people[2]!
    const alice = await vault.login(people[0]!.username, people[0]!.password)
    try {
      patient = await alice.createPatient({
        fullName: 'Old Patient',
        dateOfBirth: '1960-10-10',
      })
      await alice.addRecord(patient, {
        kind: 'note',
        occurredOn: '2026-01-01',
        title: 'old note',
        body: 'written before certificates',
      })
    } finally {
      alice.close()
    }
    // The users table as a release before certificates had it, then this
    // release's migration run over it: every row at version 1, no certificate.
    await certificateMigration.down(db)
    await certificateMigration.up(db)
  })

  async function certificateLine() {
    const checks = await runDoctor(db, { production: false })
    return checks.find((c) => c.id === 'user_key_certificates')!
  }

  it('leaves every user uncertified, and refuses grants naming the admin step', async () => {
    const rows = await db('users').select('public_key_certificate', 'public_key_version')
    expect(rows).to.have.length(3)
    for (const r of rows) {
      expect(r.public_key_certificate).to.equal(null)
      expect(r.public_key_version).to.equal(1)
    }
    const alice = await vault.login(people[0]!.username, people[0]!.password)
    try {
      await expect(alice.grant(patient, people[1]!.id)).to.be.rejectedWith(
        IntegrityError,
        /emr-vault user certify --as ADMIN/,
      )
      // Old data is readable all along: nothing is sealed to read it.
      expect((await alice.readPatient(patient)).fullName).to.equal('Old Patient')
    } finally {
      alice.close()
    }
    const line = await certificateLine()
    expect(line.status).to.equal('WARN')
    expect(line.detail).to.match(/^3 user\(s\) have no certificate/)
    expect(line.fix).to.match(/emr-vault user certify --as ADMIN/)
  })

  it('certifyUsers needs the admin role', async () => {
    const alice = await vault.login(people[0]!.username, people[0]!.password)
    try {
      await expect(vault.certifyUsers(alice)).to.be.rejectedWith(/admin role/)
    } finally {
      alice.close()
    }
  })

  it('the admin step certifies every user once, audited; old data stays readable and grants work', async () => {
    const keysBefore = await db('users').select('id', 'public_key').orderBy('id')
    const session = await vault.login(admin.username, admin.password)
    try {
      expect(await vault.certifyUsers(session)).to.deep.equal({ certified: 3 })
      // Run again (a resumed or repeated step), it finds nothing to do.
      expect(await vault.certifyUsers(session)).to.deep.equal({ certified: 0 })
    } finally {
      session.close()
    }
    expect(await db('users').select('id', 'public_key').orderBy('id')).to.deep.equal(
      keysBefore,
    )
    const audit = await db('audit_log')
      .select('actor_user_id', 'target_user_id', 'outcome', 'detail')
      .where('action', 'user.certify')
      .orderBy('seq')
    const adminId = rowIdFromString(admin.id, 'userId')
    // The refused attempt of the test before is on record too.
    expect(audit.filter((r) => r.outcome === 'denied')).to.deep.equal([
      {
        actor_user_id: rowIdFromString(people[0]!.id, 'userId'),
        target_user_id: null,
        outcome: 'denied',
        detail: 'access_denied',
      },
    ])
    const granted = audit.filter((r) => r.outcome !== 'denied')
    const perUser = granted.filter((r) => r.target_user_id !== null)
    expect(perUser).to.have.length(3)
    for (const r of granted) {
      expect(r.actor_user_id).to.deep.equal(adminId)
      expect(r.outcome).to.equal('success')
    }
    expect(perUser.map((r) => r.detail)).to.deep.equal(
      Array(3).fill('public key version 1'),
    )
    expect((await certificateLine()).status).to.equal('PASS')

    const alice = await vault.login(people[0]!.username, people[0]!.password)
    try {
      expect(await alice.grant(patient, people[1]!.id)).to.deep.equal({ created: true })
      expect((await alice.rotatePatientKey(patient)).toVersion).to.equal(2)
    } finally {
      alice.close()
    }
    const bob = await vault.login(people[1]!.username, people[1]!.password)
    try {
      const [record] = await bob.listRecords(patient)
      expect(record!.body).to.equal('written before certificates')
    } finally {
      bob.close()
    }
  })
})

describe('certified public keys: the admin step over several batches', () => {
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let admin: Session
  const RAW_USERS = 205

  before(async () => {
    db = own.db()
    ;({ vault } = testVault({ db }))
    const ad = await registerTestUser(vault, 'batch-admin', ['admin'])
    admin = await vault.login(ad.username, ad.password)
    // Rows as an earlier release left them: same credentials' shape as the
    // admin's, a key of their own, no certificate.
    const [template] = await db('users').where('username', ad.username)
    const rows = Array.from({ length: RAW_USERS }, (_, i) => ({
      ...template,
      id: newRowId(),
      username: `batch-user-${String(i).padStart(3, '0')}`,
      roles: 'clinician',
      public_key: generateUserKeyPair().publicKey,
      public_key_certificate: null,
    }))
    await db('users').insert(rows)
  })

  after(() => admin?.close())

  it('certifies every user across batches, each audited, and a second run only what is left; the chain verifies', async () => {
    expect(await vault.certifyUsers(admin)).to.deep.equal({ certified: RAW_USERS })
    expect(await db('users').whereNull('public_key_certificate')).to.deep.equal([])
    const audit = await db('audit_log').where('action', 'user.certify').orderBy('seq')
    expect(audit.filter((r) => r.target_user_id !== null)).to.have.length(RAW_USERS)
    expect(
      audit.filter((r) => r.target_user_id === null).map((r) => r.detail),
    ).to.deep.equal(['batch of 100', 'batch of 100', 'batch of 5'])

    // A run cut short leaves the rest uncertified: the next run does only them.
    await db('users')
      .whereIn('username', ['batch-user-007', 'batch-user-150'])
      .update({ public_key_certificate: null })
    expect(await vault.certifyUsers(admin)).to.deep.equal({ certified: 2 })
    expect((await verifyAuditChain(db, TEST_AUDIT_KEY)).ok).to.equal(true)
  })
})
