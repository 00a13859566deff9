import { expect } from '../support/chai.js'
import type { Knex } from 'knex'
import { rowIdFromString } from '../../src/db/row-id.js'
import { AccessDeniedError, AuthenticationError } from '../../src/errors/index.js'
import type { NewClinicalRecord } from '../../src/services/domain.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { testDb } from '../support/test-env.js'
import {
  demoDemographics,
  registerTestUser,
  testPassword,
  testVault,
} from '../support/vault-fixture.js'

const CHART: NewClinicalRecord[] = [
  {
    kind: 'encounter',
    occurredOn: '2026-11-02T09:30Z',
    title: 'Annual review',
    body: 'BP 128/82. Feels well.',
  },
  {
    kind: 'diagnosis',
    occurredOn: '2026-11-02',
    title: 'Type 2 diabetes mellitus',
    code: 'E11.9',
  },
  {
    kind: 'medication',
    occurredOn: '2026-11-02',
    title: 'Metformin 500 mg twice daily',
    code: '860975',
    body: null,
  },
  {
    kind: 'note',
    occurredOn: '2026-11-03',
    title: 'Phone call',
    body: 'Discussed HbA1c 7.9 %; diet advice given.',
  },
]

/** Every stored byte of the tables that a password change must not touch. */
async function snapshot(db: Knex, patientId: Buffer): Promise<string> {
  const parts = await Promise.all([
    db('patients').where('id', patientId),
    db('clinical_records').where('patient_id', patientId).orderBy('id'),
    db('patient_key_grants').where('patient_id', patientId).orderBy('user_id'),
    db('patient_key_recovery_seals').where('patient_id', patientId),
    db('patient_key_versions').where('patient_id', patientId),
  ])
  return JSON.stringify(parts, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
      ? Buffer.from((v as { data: number[] }).data).toString('hex')
      : v,
  )
}

describe('the seed story: alice shares a chart with bob, carol is refused, bob changes his password', () => {
  let vault: Vault
  let alice: Session
  let bob: Session
  let carol: Session
  let bobLogin: { username: string; password: string; id: string }
  let patientId: string
  const demographics = demoDemographics()

  before(async () => {
    ;({ vault } = testVault())
    const a = await registerTestUser(vault, 'alice')
    const b = await registerTestUser(vault, 'bob')
    const c = await registerTestUser(vault, 'carol')
    bobLogin = { username: b.username, password: b.password, id: b.user.id }
    alice = await vault.login(a.username, a.password)
    bob = await vault.login(b.username, b.password)
    carol = await vault.login(c.username, c.password)
  })

  after(() => {
    for (const s of [alice, bob, carol]) s?.close()
  })

  it('alice creates patient P and writes a chart', async () => {
    patientId = await alice.createPatient(demographics)
    for (const record of CHART) await alice.addRecord(patientId, record)
    const chart = await alice.listRecords(patientId)
    expect(chart.map((r) => r.title)).to.deep.equal(CHART.map((r) => r.title))
    expect(await alice.readPatient(patientId)).to.include(demographics)
  })

  it('carol, who holds no grant, is refused everything about P', async () => {
    await expect(carol.readPatient(patientId)).to.be.rejectedWith(AccessDeniedError)
    for (const attempt of [
      () => carol.readPatient(patientId),
      () => carol.listRecords(patientId),
      () => carol.addRecord(patientId, CHART[0]!),
      () => carol.grant(patientId, carol.userId),
      () => carol.listAccess(patientId),
    ]) {
      const err = await attempt().then(
        () => expect.fail('carol must be refused'),
        (e: unknown) => e,
      )
      expect(err).to.be.instanceOf(AccessDeniedError)
      expect((err as AccessDeniedError).code).to.equal('ACCESS_DENIED')
    }
    expect(await carol.listAccessiblePatients()).to.deep.equal([])
  })

  it('alice grants P to bob without his password, and bob reads the chart exactly', async () => {
    expect(await alice.grant(patientId, bob.userId)).to.deep.equal({ created: true })
    expect(await alice.grant(patientId, bob.userId)).to.deep.equal({ created: false })

    const chart = await bob.listRecords(patientId)
    expect(chart).to.have.length(CHART.length)
    chart.forEach((record, i) => {
      const expected = CHART[i]!
      expect(record).to.include({
        kind: expected.kind,
        occurredOn: expected.occurredOn,
        title: expected.title,
        code: expected.code ?? null,
        body: expected.body ?? null,
        patientId,
        authorId: alice.userId,
      })
    })
    expect(await bob.readRecord(patientId, chart[1]!.id)).to.deep.equal(chart[1])
    expect(await bob.readPatient(patientId)).to.include({
      ...demographics,
      id: patientId,
    })
    expect(await bob.listAccessiblePatients()).to.deep.equal([patientId])
    const access = await bob.listAccess(patientId)
    expect(access.map((a) => a.userId).sort()).to.deep.equal(
      [alice.userId, bob.userId].sort(),
    )
    expect(access.find((a) => a.userId === bob.userId)?.grantedBy).to.equal(alice.userId)
  })

  it('bob changes his password: the old one fails, the new one reads P, only his private key was rewrapped', async () => {
    const db = testDb()
    const pid = rowIdFromString(patientId, 'patientId')
    const bobId = rowIdFromString(bobLogin.id, 'id')
    const before = await snapshot(db, pid)
    const othersBefore = await db('users').whereNot('id', bobId).orderBy('id')
    const [bobBefore] = await db('users').where('id', bobId)

    const newPassword = testPassword()
    await vault.changePassword(bobLogin.username, bobLogin.password, newPassword)

    await expect(vault.login(bobLogin.username, bobLogin.password)).to.be.rejectedWith(
      AuthenticationError,
    )
    const again = await vault.login(bobLogin.username, newPassword)
    try {
      expect((await again.listRecords(patientId)).map((r) => r.title)).to.deep.equal(
        CHART.map((r) => r.title),
      )
    } finally {
      again.close()
    }

    // Nothing re-encrypted: patient, chart, grants, seals and other users unchanged to the byte.
    expect(await snapshot(db, pid)).to.equal(before)
    expect(await db('users').whereNot('id', bobId).orderBy('id')).to.deep.equal(
      othersBefore,
    )
    const [bobAfter] = await db('users').where('id', bobId)
    expect(bobAfter.public_key).to.deep.equal(bobBefore.public_key)
    expect(bobAfter.wrapped_private_key).not.to.deep.equal(bobBefore.wrapped_private_key)
    expect(bobAfter.kdf_salt).not.to.deep.equal(bobBefore.kdf_salt)
    expect(bobAfter.password_verifier).not.to.equal(bobBefore.password_verifier)
    expect(bobAfter.password_changed_at.getTime()).to.be.greaterThanOrEqual(
      bobBefore.password_changed_at.getTime(),
    )
  })
})
