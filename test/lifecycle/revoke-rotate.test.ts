import { expect } from '../support/chai.js'
import type { Knex } from 'knex'
import {
  envelopeAad,
  envelopeKeyVersion,
  openEnvelope,
} from '../../src/crypto/envelope.js'
import { OpenFailedError } from '../../src/crypto/open-failed-error.js'
import { rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import {
  AccessDeniedError,
  IntegrityError,
  NotFoundError,
} from '../../src/errors/index.js'
import { envelopeTablesIn } from '../support/envelope-tables.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { secretsOf } from '../support/secrets.js'
import { testDb } from '../support/test-env.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  testVault,
} from '../support/vault-fixture.js'

/** Every envelope of one patient, with what names it in the AAD. */
async function envelopesOf(
  db: Knex,
  patientId: Buffer,
): Promise<{ table: string; column: string; rowId: Buffer; envelope: Buffer }[]> {
  const out = []
  for (const spec of await envelopeTablesIn(db)) {
    const rows = await db(spec.table).where(spec.patientColumn, patientId)
    for (const row of rows) {
      for (const column of spec.columns) {
        if (row[column] !== null)
          out.push({ table: spec.table, column, rowId: row.id, envelope: row[column] })
      }
    }
  }
  return out
}

function fieldKeysNamed(
  secrets: { name: string; bytes: Buffer }[],
  patientId: string,
  version: number,
) {
  const find = (what: string) =>
    secrets.find((s) => s.name === `patient ${patientId} v${version} ${what}`)!.bytes
  return { enc: find('enc subkey'), mac: find('mac subkey') }
}

describe('revoke and rotate', () => {
  let vault: Vault
  let db: Knex
  let alice: Session
  let bob: Session
  let bobCreds: { username: string; password: string; user: { id: string } }

  before(async () => {
    ;({ vault } = testVault())
    db = testDb()
    const a = await registerTestUser(vault, 'rv-alice')
    bobCreds = await registerTestUser(vault, 'rv-bob')
    alice = await vault.login(a.username, a.password)
    bob = await vault.login(bobCreds.username, bobCreds.password)
  })

  after(() => {
    alice?.close()
    bob?.close()
  })

  it('every envelope column of the schema is covered by rotation (the chart and the catalog of declared tables)', async () => {
    const rows = await db('information_schema.columns')
      .select('table_name as t', 'column_name as c')
      .where('table_schema', db.raw('DATABASE()'))
      .andWhere('column_name', 'like', '%\\_enc')
    const inSchema = rows.map((r: { t: string; c: string }) => `${r.t}.${r.c}`).sort()
    const covered = (await envelopeTablesIn(db))
      .flatMap((s) => s.columns.map((c) => `${s.table}.${c}`))
      .sort()
    expect(covered).to.deep.equal(inSchema)
  })

  it("revoke: bob's cached old key opens nothing written or re-encrypted afterwards; alice reads everything", async () => {
    const patientId = await alice.createPatient(demoDemographics())
    const pid = rowIdFromString(patientId, 'p')
    await alice.addRecord(patientId, {
      kind: 'note',
      occurredOn: '2026-01-01',
      title: 'before revoke',
      body: 'old body',
    })
    await alice.grant(patientId, bob.userId)
    expect((await bob.listRecords(patientId))[0]!.body).to.equal('old body') // bob now has v1 cached
    const bobOld = fieldKeysNamed(
      await secretsOf(db, bobCreds.username, bobCreds.password),
      patientId,
      1,
    )

    // Before: bob's key opens the stored values.
    const before = await envelopesOf(db, pid)
    for (const e of before) {
      expect(() =>
        openEnvelope(e.envelope, bobOld, envelopeAad(e.table, e.column, e.rowId)),
      ).not.to.throw()
    }

    const result = await alice.revoke(patientId, bob.userId)
    expect(result).to.deep.include({ fromVersion: 1, toVersion: 2, rows: 2 })
    await alice.addRecord(patientId, {
      kind: 'note',
      occurredOn: '2026-01-02',
      title: 'after revoke',
      body: 'new body',
    })

    await expect(bob.readPatient(patientId)).to.be.rejectedWith(AccessDeniedError)
    await expect(bob.listRecords(patientId)).to.be.rejectedWith(AccessDeniedError)

    const after = await envelopesOf(db, pid)
    expect(after.length).to.equal(before.length + 3) // title, occurred_on and body of the new record
    for (const e of after) {
      expect(envelopeKeyVersion(e.envelope), `${e.table}.${e.column}`).to.equal(2)
      expect(() =>
        openEnvelope(e.envelope, bobOld, envelopeAad(e.table, e.column, e.rowId)),
      ).to.throw(OpenFailedError)
    }
    const chart = await alice.listRecords(patientId)
    expect(chart.map((r) => [r.title, r.body])).to.deep.equal([
      ['before revoke', 'old body'],
      ['after revoke', 'new body'],
    ])
    expect((await alice.readPatient(patientId)).fullName).to.equal(
      DEMO_DEMOGRAPHICS.fullName,
    )

    const grants = await db('patient_key_grants').where('patient_id', pid)
    expect(grants.map((g: { key_version: number }) => g.key_version)).to.deep.equal([2])
    expect(
      (await db('patient_key_recovery_seals').where('patient_id', pid)).map(
        (s: { key_version: number }) => s.key_version,
      ),
    ).to.deep.equal([2])
    const versions = await db('patient_key_versions')
      .where('patient_id', pid)
      .orderBy('version')
    expect(
      versions.map((v: { version: number; retired_at: Date | null }) => [
        v.version,
        v.retired_at === null,
      ]),
    ).to.deep.equal([
      [1, false],
      [2, true],
    ])
    expect((await alice.listAccess(patientId)).map((a) => a.userId)).to.deep.equal([
      alice.userId,
    ])
  })

  it('revoking a user without a grant is NotFoundError; a user without a grant cannot revoke', async () => {
    const patientId = await alice.createPatient(demoDemographics())
    await expect(alice.revoke(patientId, bob.userId)).to.be.rejectedWith(NotFoundError)
    await expect(bob.revoke(patientId, alice.userId)).to.be.rejectedWith(
      AccessDeniedError,
    )
    expect((await alice.readPatient(patientId)).keyVersion).to.equal(1)
  })

  it('rotates a patient with 2,000 encrypted values in one transaction; every value reads back exactly', async () => {
    const patientId = await alice.createPatient(demoDemographics()) // 7 values
    const pid = rowIdFromString(patientId, 'p')
    const records = Array.from({ length: 499 }, (_, i) => ({
      kind: 'observation' as const,
      occurredOn: `2026-0${1 + (i % 9)}-1${i % 10}`,
      title: `Observation ${i}`,
      code: `LOINC-${1000 + i}`,
      body: `value ${i} `.repeat(1 + (i % 40)),
    }))
    for (const r of records) await alice.addRecord(patientId, r)
    const values = (await envelopesOf(db, pid)).length
    expect(values).to.equal(7 + 499 * 4) // 2,003 values: 7 demographics, 4 per record
    const result = await alice.rotatePatientKey(patientId)
    expect(result).to.deep.equal({ fromVersion: 1, toVersion: 2, rows: 500 })
    for (const e of await envelopesOf(db, pid))
      expect(envelopeKeyVersion(e.envelope)).to.equal(2)
    const chart = await alice.listRecords(patientId)
    expect(
      chart.map((r) => ({
        kind: r.kind,
        occurredOn: r.occurredOn,
        title: r.title,
        code: r.code,
        body: r.body,
      })),
    ).to.deep.equal(records)
    expect(await alice.readPatient(patientId)).to.include(DEMO_DEMOGRAPHICS)
  })

  it('a tampered value stops the rotation before anything is written', async () => {
    const patientId = await alice.createPatient(demoDemographics())
    const pid = rowIdFromString(patientId, 'p')
    for (let i = 0; i < 3; i++)
      await alice.addRecord(patientId, {
        kind: 'note',
        occurredOn: '2026-01-01',
        title: `n${i}`,
      })
    const [last] = await db('clinical_records')
      .where('patient_id', pid)
      .orderBy('id', 'desc')
      .limit(1)
    const bad = Buffer.from(last.title_enc)
    bad[30]! ^= 1
    await db('clinical_records').where('id', last.id).update({ title_enc: bad })
    const before = await envelopesOf(db, pid)
    // The error names the row and the patient by their UUID strings.
    await expect(alice.rotatePatientKey(patientId)).to.be.rejectedWith(
      IntegrityError,
      `clinical_records row ${rowIdToString(last.id)} of patient ${patientId} failed its integrity check; ` +
        'rotation stopped before writing',
    )
    expect(await envelopesOf(db, pid)).to.deep.equal(before)
    expect((await alice.readPatient(patientId)).keyVersion).to.equal(1)
    // Put the value back: the database is shared with the other suites of the run.
    await db('clinical_records')
      .where('id', last.id)
      .update({ title_enc: last.title_enc })
  })

  it('ids in any letter case make grants that open', async () => {
    const patientId = await alice.createPatient(demoDemographics())
    expect(
      await alice.grant(patientId.toUpperCase(), bob.userId.toUpperCase()),
    ).to.deep.equal({ created: true })
    expect((await bob.readPatient(patientId)).fullName).to.equal(
      DEMO_DEMOGRAPHICS.fullName,
    )
    await alice.revoke(patientId, bob.userId)
  })

  it("a disabled user's grant can be revoked, and a rotation does not carry it over", async () => {
    const dave = await registerTestUser(vault, 'rv-dave')
    const first = await alice.createPatient(demoDemographics())
    const second = await alice.createPatient(demoDemographics())
    await alice.grant(first, dave.user.id)
    await alice.grant(second, dave.user.id)
    await vault.disableUser(dave.user.id)
    expect(await alice.revoke(first, dave.user.id)).to.include({
      fromVersion: 1,
      toVersion: 2,
    })
    await alice.rotatePatientKey(second)
    await vault.enableUser(dave.user.id)
    const session = await vault.login(dave.username, dave.password)
    try {
      await expect(session.readPatient(first)).to.be.rejectedWith(AccessDeniedError)
      await expect(session.readPatient(second)).to.be.rejectedWith(AccessDeniedError)
      expect(await session.listAccessiblePatients()).to.deep.equal([])
    } finally {
      session.close()
    }
  })
})
