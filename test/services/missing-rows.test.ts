import type { Knex } from 'knex'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import { NotFoundError } from '../../src/errors/index.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { Session } from '../../src/services/session.js'
import { expect } from '../support/chai.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  demoDemographics,
  registerTestUser,
  testVault,
} from '../support/vault-fixture.js'

const vitals = defineTable({
  name: 'app_missing_vitals',
  encrypted: { pulse: encrypted.integer() },
})

/**
 * A read or write of a row id that is not one of the patient's: NOT_FOUND, and
 * one audit row that says so (outcome failure, detail not_found), never a
 * success row, and nothing changed.
 */
describe('a row id that is not the patient’s: NOT_FOUND, audited as not_found', () => {
  const own = useOwnDatabase()
  let db: Knex
  let alice: Session
  let patientId: string
  let otherPatient: string
  let recordId: string
  let rowId: string
  let otherRowId: string

  before(async function () {
    this.timeout(60_000)
    db = own.db()
    await createEncryptedTable(db, vitals)
    const { vault } = testVault({ db, tables: [vitals] })
    const a = await registerTestUser(vault, 'missing-alice')
    alice = await vault.login(a.username, a.password)
    patientId = await alice.createPatient(demoDemographics())
    otherPatient = await alice.createPatient({ ...demoDemographics(), fullName: 'Other' })
    recordId = await alice.addRecord(patientId, {
      kind: 'note',
      occurredOn: '2026-01-01',
      title: 'Fine',
    })
    rowId = await alice.table(vitals).insert(patientId, { pulse: 60 })
    otherRowId = await alice.table(vitals).insert(otherPatient, { pulse: 90 })
  })
  after(() => alice?.close())

  async function tableCounts(): Promise<number[]> {
    const out: number[] = []
    for (const t of ['clinical_records', 'app_missing_vitals']) {
      out.push(Number((await db(t).count({ n: '*' }))[0]!.n))
    }
    return out
  }

  const missing = () => rowIdToString(newRowId())
  const calls: [string, string, () => Promise<unknown>][] = [
    ['readRecord', 'record.read', () => alice.readRecord(patientId, missing())],
    [
      'updateRecord',
      'record.update',
      () => alice.updateRecord(patientId, missing(), { title: 'x' }),
    ],
    ['deleteRecord', 'record.delete', () => alice.deleteRecord(patientId, missing())],
    ['get', 'row.read', () => alice.table(vitals).get(patientId, missing())],
    [
      'get (other patient)',
      'row.read',
      () => alice.table(vitals).get(patientId, otherRowId),
    ],
    [
      'open (one of two missing)',
      'row.open',
      () => alice.table(vitals).open(patientId, [rowId, missing()]),
    ],
    [
      'update',
      'row.update',
      () => alice.table(vitals).update(patientId, missing(), { pulse: 1 }),
    ],
    [
      'update (other patient)',
      'row.update',
      () => alice.table(vitals).update(patientId, otherRowId, { pulse: 1 }),
    ],
    ['delete', 'row.delete', () => alice.table(vitals).delete(patientId, missing())],
    [
      'delete (other patient)',
      'row.delete',
      () => alice.table(vitals).delete(patientId, otherRowId),
    ],
  ]

  for (const [name, action, call] of calls) {
    it(`${name}: NotFoundError and one ${action} failure row, no success row`, async () => {
      const before = await tableCounts()
      const [last] = await db('audit_log').max({ seq: 'seq' })
      await expect(call()).to.be.rejectedWith(NotFoundError)
      const rows = await db('audit_log')
        .where('seq', '>', String(last!.seq))
        .orderBy('seq')
      expect(
        rows.map((r) => [r.action, r.outcome, r.detail, rowIdToString(r.patient_id)]),
      ).to.deep.equal([[action, 'failure', 'not_found', patientId]])
      expect(await tableCounts()).to.deep.equal(before)
    })
  }

  it('the rows asked about are as they were', async () => {
    expect((await alice.readRecord(patientId, recordId)).title).to.equal('Fine')
    expect((await alice.table(vitals).get(patientId, rowId)).pulse).to.equal(60)
    expect((await alice.table(vitals).get(otherPatient, otherRowId)).pulse).to.equal(90)
  })
})
