import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { emergencyKeyMac } from '../../src/crypto/audit-mac.js'
import { wipe } from '../../src/crypto/bytes.js'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import { openPatientKey } from '../../src/crypto/patient-key-seal.js'
import { rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import {
  AccessDeniedError,
  ConfigurationError,
  IntegrityError,
  ValidationError,
} from '../../src/errors/index.js'
import * as emergencyKeyVersions from '../../src/migrations/20261202_0005_emergency_key_versions.js'
import { auditReport } from '../../src/services/audit.service.js'
import { emergencyKeyCheck } from '../../src/services/doctor-emergency-key.js'
import {
  emergencyPrivateKeyContext,
  emergencyRecipientId,
} from '../../src/services/emergency-key-versions.js'
import { unlockedUserOf, type Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { expectAuditChainVerifies } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, TEST_AUDIT_KEY, testVault } from '../support/vault-fixture.js'

/**
 * Rotation of the emergency key E (services/emergency-rotation.service.ts): the
 * new pair, every patient re-sealed, the old key's wraps destroyed, so that a
 * former holder's old copy opens nothing; break-glass throughout; resumable;
 * refused on a swapped key; an existing database's v1 key kept and rotatable.
 */

interface SealRow {
  patient_id: Buffer
  key_version: number
  emergency_key_version: number
  sealed_key: Buffer
}

async function seals(db: Knex): Promise<SealRow[]> {
  return db('patient_key_emergency_seals')
    .select('patient_id', 'key_version', 'emergency_key_version', 'sealed_key')
    .orderBy('patient_id') as Promise<SealRow[]>
}

async function keyVersions(db: Knex): Promise<number[]> {
  return (await db('emergency_key').select('version').orderBy('version')).map(
    (r: { version: number }) => r.version,
  )
}

/** Patients whose current key version has no emergency seal at all. */
async function unsealedPatients(db: Knex): Promise<number> {
  const [row] = await db('patients as p')
    .leftJoin('patient_key_emergency_seals as s', function () {
      this.on('s.patient_id', '=', 'p.id').andOn(
        's.key_version',
        '=',
        'p.current_key_version',
      )
    })
    .whereNull('s.patient_id')
    .count({ n: '*' })
  return Number(row!.n)
}

/** Holder copies as (username, version) pairs. */
async function holderCopies(db: Knex): Promise<string[]> {
  const rows = (await db('emergency_key_holders as h')
    .join('users as u', 'u.id', 'h.user_id')
    .select('u.username', 'h.emergency_key_version')
    .orderBy(['u.username', 'h.emergency_key_version'])) as {
    username: string
    emergency_key_version: number
  }[]
  return rows.map((r) => `${r.username}@v${r.emergency_key_version}`)
}

/** Tries to open a patient seal with a private key of E, under either recipient id. */
async function opensWith(
  seal: SealRow,
  emergencyPrivate: Buffer,
  publicKeys: readonly Buffer[],
): Promise<boolean> {
  for (const pub of publicKeys) {
    try {
      wipe(
        await openPatientKey(seal.sealed_key, emergencyPrivate, {
          patientId: rowIdToString(seal.patient_id),
          keyVersion: seal.key_version,
          recipientId: emergencyRecipientId(pub),
        }),
      )
      return true
    } catch {
      // not this one
    }
  }
  return false
}

describe('emergency key rotation', function () {
  this.timeout(120_000)
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  let admin: Session
  let alice: Session
  let erin: Session
  let frank: Session
  let erinName: string
  let frankId: string
  const patients: string[] = []
  const authority = () => ({ admin, recoveryPrivateKey: recovery.privateKey })

  before(async () => {
    db = own.db()
    ;({ vault, recovery } = testVault({ db }))
    const ad = await registerTestUser(vault, 'er-admin', ['admin'])
    const a = await registerTestUser(vault, 'er-alice')
    const e = await registerTestUser(vault, 'er-erin', ['clinician', 'emergency'])
    const f = await registerTestUser(vault, 'er-frank', ['clinician', 'emergency'])
    admin = await vault.login(ad.username, ad.password)
    alice = await vault.login(a.username, a.password)
    erin = await vault.login(e.username, e.password)
    frank = await vault.login(f.username, f.password)
    erinName = e.username
    frankId = f.user.id
    for (let i = 0; i < 30; i++)
      patients.push(
        await alice.createPatient({
          fullName: `Rotation ${i}`,
          dateOfBirth: '1980-02-02',
        }),
      )
    expect(await vault.setUpEmergencyAccess(authority())).to.deep.equal({
      created: true,
      sealed: 30,
    })
    await vault.grantEmergencyKey(authority(), e.user.id)
    await vault.grantEmergencyKey(authority(), f.user.id)
  })

  after(() => {
    for (const s of [admin, alice, erin, frank]) s?.close()
  })

  it("rotates: every patient under the new key only, the old key's wraps gone, a former holder's old copy opens nothing", async () => {
    // What a former holder keeps from an old backup: their copy of E v1, and
    // E v1's public key; and every seal under v1 as it is now.
    const [frankCopy] = await db('emergency_key_holders').where({
      user_id: rowIdFromString(frankId, 'u'),
      emergency_key_version: 1,
    })
    const [v1] = await db('emergency_key').where('version', 1)
    const oldSeals = await seals(db)
    expect(oldSeals.map((s) => s.emergency_key_version)).to.deep.equal(
      new Array(30).fill(1),
    )
    const oldE = await openPatientKey(
      frankCopy.sealed_private_key,
      unlockedUserOf(frank, 'frank').privateKey(),
      emergencyPrivateKeyContext(1, frank.userId),
    )
    try {
      // The material is real: before the rotation it opens every seal.
      for (const s of oldSeals)
        expect(await opensWith(s, oldE, [v1.public_key]), 'old seal').to.equal(true)

      expect(await vault.revokeEmergencyKey(admin, frankId)).to.equal(true)
      const result = await vault.rotateEmergencyKey(authority())
      expect(result).to.deep.equal({
        fromVersion: 1,
        toVersion: 2,
        resumed: false,
        holders: 1, // erin: frank was revoked before the rotation
        resealed: 30,
        finished: true,
        retired: { seals: 0, holders: 1, keys: 1 },
      })

      expect(await keyVersions(db)).to.deep.equal([2])
      expect(await holderCopies(db)).to.deep.equal([`${erinName}@v2`])
      const now = await seals(db)
      expect(now.map((s) => rowIdToString(s.patient_id)).sort()).to.deep.equal(
        [...patients].sort(),
      )
      expect(now.map((s) => s.emergency_key_version)).to.deep.equal(new Array(30).fill(2))
      const [v2] = await db('emergency_key').where('version', 2)
      expect(v2.public_key.equals(v1.public_key)).to.equal(false)
      for (const s of now) {
        expect(oldSeals.some((o) => o.sealed_key.equals(s.sealed_key))).to.equal(false)
        expect(
          await opensWith(s, oldE, [v1.public_key, v2.public_key]),
          `seal of ${rowIdToString(s.patient_id)} opened with the old key`,
        ).to.equal(false)
      }
    } finally {
      wipe(oldE)
    }

    // Break-glass by the current holder works; frank, revoked, gets nothing.
    await erin.breakGlass(patients[0]!, 'Collapsed in clinic, needs history now')
    expect((await erin.readPatient(patients[0]!)).fullName).to.equal('Rotation 0')
    await expect(
      frank.breakGlass(patients[1]!, 'Former holder trying to look'),
    ).to.be.rejectedWith(AccessDeniedError, /emergency key/)

    const rows = await auditReport(db, { action: 'emergency.rotate', limit: 100 })
    expect(rows.map((r) => [r.outcome, r.detail])).to.deep.equal([
      ['success', 'start v1->v2'],
      ['success', 'finish v1->v2'],
    ])
    expect((await emergencyKeyCheck(db)).status).to.equal('PASS')
    await expectAuditChainVerifies(db)
  })

  it('stopped mid-way resumes; break-glass works on both versions meanwhile; patients created or holders granted meanwhile end under the new key', async () => {
    const stop = new AbortController()
    const first = await vault.rotateEmergencyKey(authority(), {
      signal: stop.signal,
      onProgress: (p) => {
        if (p.resealed >= 5) stop.abort()
      },
    })
    expect(first).to.deep.include({
      fromVersion: 2,
      toVersion: 3,
      resumed: false,
      holders: 1,
      finished: false,
      retired: { seals: 0, holders: 0, keys: 0 },
    })
    expect(first.resealed).to.be.at.least(5).and.below(30)
    expect(await keyVersions(db)).to.deep.equal([2, 3])
    expect(await unsealedPatients(db)).to.equal(0)
    const mid = await seals(db)
    const underOld = mid.filter((s) => s.emergency_key_version === 2)
    const underNew = mid.filter((s) => s.emergency_key_version === 3)
    expect(underNew.length).to.equal(first.resealed)
    expect(underOld.length).to.equal(30 - first.resealed)
    expect((await emergencyKeyCheck(db)).status).to.equal('WARN')

    // Break-glass by erin on a patient under each version.
    // (Not patients[0]: erin holds a break-glass grant there already.)
    const notOpened = (s: SealRow) => rowIdToString(s.patient_id) !== patients[0]
    for (const s of [underOld.find(notOpened)!, underNew.find(notOpened)!]) {
      const id = rowIdToString(s.patient_id)
      await erin.breakGlass(id, 'Trauma call during the key rotation')
      expect((await erin.readPatient(id)).fullName).to.match(/^Rotation \d+$/)
    }

    // A patient created now is sealed to the new key; a holder granted now gets both.
    const during = await alice.createPatient({
      fullName: 'During Rotation',
      dateOfBirth: '1990-03-03',
    })
    patients.push(during)
    const [duringSeal] = await db('patient_key_emergency_seals').where(
      'patient_id',
      rowIdFromString(during, 'p'),
    )
    expect(duringSeal.emergency_key_version).to.equal(3)
    const g = await registerTestUser(vault, 'er-gina', ['emergency'])
    await vault.grantEmergencyKey(authority(), g.user.id)
    expect(await holderCopies(db)).to.deep.equal(
      [`${erinName}@v2`, `${erinName}@v3`, `${g.username}@v2`, `${g.username}@v3`].sort(),
    )

    // A failure thrown mid-way (here by the progress callback) stops it too.
    let calls = 0
    await expect(
      vault.rotateEmergencyKey(authority(), {
        onProgress: () => {
          if (++calls === 3) throw new Error('injected failure')
        },
      }),
    ).to.be.rejectedWith(Error, 'injected failure')
    expect(await keyVersions(db)).to.deep.equal([2, 3])
    expect(await unsealedPatients(db)).to.equal(0)
    const left = (await seals(db)).filter((s) => s.emergency_key_version === 2).length
    expect(left).to.be.below(underOld.length).and.above(0)

    const rest = await vault.rotateEmergencyKey(authority())
    expect(rest).to.deep.equal({
      fromVersion: 2,
      toVersion: 3,
      resumed: true,
      holders: 0,
      resealed: left,
      finished: true,
      retired: { seals: 0, holders: 2, keys: 1 },
    })
    expect(await keyVersions(db)).to.deep.equal([3])
    expect((await seals(db)).map((s) => s.emergency_key_version)).to.deep.equal(
      new Array(31).fill(3),
    )
    expect(await holderCopies(db)).to.deep.equal(
      [`${erinName}@v3`, `${g.username}@v3`].sort(),
    )
    const gina = await vault.login(g.username, g.password)
    try {
      await gina.breakGlass(during, 'Unresponsive, allergy history needed')
      expect((await gina.readPatient(during)).fullName).to.equal('During Rotation')
    } finally {
      gina.close()
    }
    await expectAuditChainVerifies(db)
  })

  it('refuses a new public key swapped in by raw SQL before sealing anything to it', async () => {
    const stop = new AbortController()
    stop.abort()
    const started = await vault.rotateEmergencyKey(authority(), { signal: stop.signal })
    expect(started).to.deep.include({ toVersion: 4, resealed: 0, finished: false })
    const [v4] = await db('emergency_key').where('version', 4)
    const attacker = generateUserKeyPair()
    await db('emergency_key')
      .where('version', 4)
      .update({ public_key: attacker.publicKey })
    try {
      await expect(vault.rotateEmergencyKey(authority())).to.be.rejectedWith(
        IntegrityError,
        /emergency public key \(version 4\) is not the one this deployment set up/,
      )
      await expect(
        alice.createPatient({ fullName: 'Swapped', dateOfBirth: '2000-01-01' }),
      ).to.be.rejectedWith(IntegrityError, /emergency public key/)
      expect(
        (await seals(db)).filter((s) => s.emergency_key_version === 4),
      ).to.deep.equal([])
      const failures = await auditReport(db, {
        action: 'emergency.rotate',
        outcome: 'failure',
        limit: 10,
      })
      expect(failures.map((r) => r.detail)).to.deep.equal(['reseal v3->v4: integrity'])
    } finally {
      await db('emergency_key').where('version', 4).update({ public_key: v4.public_key })
    }
    const done = await vault.rotateEmergencyKey(authority())
    expect(done).to.deep.include({ resumed: true, resealed: 31, finished: true })
    expect(await keyVersions(db)).to.deep.equal([4])
  })

  it('notices a retired key row put back with its own valid pin (doctor FAIL), and the next rotation destroys it', async () => {
    const [current] = await db('emergency_key').select('*')
    expect(current.version).to.equal(4)
    // A DBA restores "version 3" from a backup: a valid-looking row (its pin
    // under this deployment would verify; here any bytes do for the doctor).
    await db('emergency_key').insert({ ...current, version: 3 })
    const line = await emergencyKeyCheck(db)
    expect(line.status).to.equal('FAIL')
    expect(line.detail).to.match(/version\(s\) 3 are stored again/)
    const r = await vault.rotateEmergencyKey(authority())
    expect(r).to.deep.include({ fromVersion: 3, toVersion: 4, resumed: true })
    expect(r.retired.keys).to.equal(1)
    expect(await keyVersions(db)).to.deep.equal([4])
    expect((await emergencyKeyCheck(db)).status).to.equal('PASS')
  })

  it('refuses bad input with typed errors', async () => {
    await expect(
      vault.rotateEmergencyKey({ admin: alice, recoveryPrivateKey: recovery.privateKey }),
    ).to.be.rejectedWith(AccessDeniedError, /admin role/)
    await expect(
      vault.rotateEmergencyKey({ admin, recoveryPrivateKey: randomBytes(32) }),
    ).to.be.rejectedWith(ConfigurationError, /recovery private key does not match/)
    await expect(
      vault.rotateEmergencyKey({ admin, recoveryPrivateKey: Buffer.alloc(3) }),
    ).to.be.rejectedWith(ConfigurationError)
    await expect(
      vault.rotateEmergencyKey(authority(), { bogus: 1 } as never),
    ).to.be.rejectedWith(ValidationError, /"bogus"/)
    await expect(
      vault.rotateEmergencyKey(authority(), { onProgress: 'x' } as never),
    ).to.be.rejectedWith(ValidationError, /onProgress/)
    await expect(
      vault.rotateEmergencyKey(authority(), { signal: {} } as never),
    ).to.be.rejectedWith(ValidationError, /signal/)
    await expect(
      vault.rotateEmergencyKey({
        admin: {} as Session,
        recoveryPrivateKey: recovery.privateKey,
      }),
    ).to.be.rejectedWith(ValidationError, /login\(\)/)
    // Nothing was started by any of them.
    expect(await keyVersions(db)).to.deep.equal([4])
  })

  describe('without an emergency key', () => {
    const bare = useOwnDatabase()
    it('is refused as not set up', async () => {
      const { vault: v } = testVault({ db: bare.db() })
      const a = await registerTestUser(v, 'er-bare', ['admin'])
      const s = await v.login(a.username, a.password)
      try {
        await expect(
          v.rotateEmergencyKey({ admin: s, recoveryPrivateKey: recovery.privateKey }),
        ).to.be.rejectedWith(ConfigurationError, /no emergency key/)
      } finally {
        s.close()
      }
    })
  })

  describe('an existing database with a v1 emergency key, migrated', () => {
    const old = useOwnDatabase()
    it('keeps its rows: break-glass and new patient sealing work, and it rotates', async () => {
      const odb = old.db()
      const { vault: v } = testVault({ db: odb })
      const ad = await registerTestUser(v, 'er-old-admin', ['admin'])
      const cl = await registerTestUser(v, 'er-old-clin')
      const em = await registerTestUser(v, 'er-old-em', ['emergency'])
      const [boss, clin, holder] = await Promise.all([
        v.login(ad.username, ad.password),
        v.login(cl.username, cl.password),
        v.login(em.username, em.password),
      ])
      try {
        const auth = { admin: boss, recoveryPrivateKey: recovery.privateKey }
        const before = [
          await clin.createPatient({ fullName: 'Old One', dateOfBirth: '1940-01-01' }),
          await clin.createPatient({ fullName: 'Old Two', dateOfBirth: '1941-01-01' }),
        ]
        await v.setUpEmergencyAccess(auth)
        await v.grantEmergencyKey(auth, em.user.id)
        // Back to the schema before versions, with the pin the previous release
        // wrote (the unversioned MAC): the rows as an existing deployment has them.
        await emergencyKeyVersions.down(odb)
        const [row] = await odb('emergency_key').select('*')
        expect(row.id).to.equal(1)
        await odb('emergency_key')
          .where('id', 1)
          .update({ public_key_mac: emergencyKeyMac(TEST_AUDIT_KEY, row.public_key) })
        const counts = async () =>
          Promise.all(
            ['emergency_key', 'emergency_key_holders', 'patient_key_emergency_seals'].map(
              async (t) => Number((await odb(t).count({ n: '*' }))[0]!.n),
            ),
          )
        const rowsBefore = await counts()
        expect(rowsBefore).to.deep.equal([1, 1, 2])

        await emergencyKeyVersions.up(odb)
        expect(await counts()).to.deep.equal(rowsBefore)
        expect(await keyVersions(odb)).to.deep.equal([1])
        expect(await holderCopies(odb)).to.deep.equal([`${em.username}@v1`])

        await holder.breakGlass(before[0]!, 'Existing seal read after the upgrade')
        expect((await holder.readPatient(before[0]!)).fullName).to.equal('Old One')
        const fresh = await clin.createPatient({
          fullName: 'After Upgrade',
          dateOfBirth: '2001-01-01',
        })
        const [s] = await odb('patient_key_emergency_seals').where(
          'patient_id',
          rowIdFromString(fresh, 'p'),
        )
        expect(s.emergency_key_version).to.equal(1)

        const r = await v.rotateEmergencyKey(auth)
        expect(r).to.deep.equal({
          fromVersion: 1,
          toVersion: 2,
          resumed: false,
          holders: 1,
          resealed: 3,
          finished: true,
          retired: { seals: 0, holders: 1, keys: 1 },
        })
        await holder.breakGlass(before[1]!, 'After the first rotation of an old key')
        expect((await holder.readPatient(before[1]!)).fullName).to.equal('Old Two')
        // The migration cannot go back over a rotated key, and changes nothing.
        await expect(emergencyKeyVersions.down(odb)).to.be.rejectedWith(/rotated/)
        expect(await keyVersions(odb)).to.deep.equal([2])
      } finally {
        for (const x of [boss, clin, holder]) x.close()
      }
    })
  })
})
