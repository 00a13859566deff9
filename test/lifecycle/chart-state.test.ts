import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { rowIdFromString } from '../../src/db/row-id.js'
import { IntegrityError } from '../../src/errors/index.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { plain } from '../../src/schema/plain-columns.js'
import { verifyAuditChain } from '../../src/services/audit-verify.js'
import type { ChartFinding } from '../../src/services/chart-state.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, TEST_AUDIT_KEY, testVault } from '../support/vault-fixture.js'

/**
 * What a database writer without keys can do to a chart beyond editing a value
 * (which fails its tag): put back an older envelope, delete a row, NULL an
 * optional field, move a row to another patient, or put the whole chart and its
 * state back from a backup. Each is done here in raw SQL and must be reported,
 * by readChart or only by verifyChart, as docs/integrity.md says.
 */

const notes = defineTable({
  name: 'cs_notes',
  encrypted: {
    text: encrypted.text({ maxBytes: 200 }),
    flag: encrypted.text({ maxBytes: 20, nullable: true }),
  },
  plain: { label: plain.text({ maxLength: 40 }) },
})

const bytes = (id: string) => rowIdFromString(id, 'id')

const RECORD = {
  kind: 'note',
  occurredOn: '2026-11-30',
  title: 'first title',
  code: 'E11.9',
  body: 'first body',
} as const

describe('chart state: rollback, deletion, NULLing and moved rows', function () {
  this.timeout(120_000)
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let alice: Session
  let admin: Session

  before(async () => {
    db = own.db()
    await createEncryptedTable(db, notes)
    ;({ vault } = testVault({ db, tables: [notes] }))
    const a = await registerTestUser(vault, 'cs-alice')
    const ad = await registerTestUser(vault, 'cs-admin', ['admin'])
    alice = await vault.login(a.username, a.password)
    admin = await vault.login(ad.username, ad.password)
  })

  after(() => {
    alice?.close()
    admin?.close()
  })

  /** A patient with two records and an app-table row, all read back verified. */
  async function newChart(name: string) {
    const patient = await alice.createPatient({
      fullName: name,
      dateOfBirth: '1970-01-01',
      phone: '+44 20 7946 0000',
    })
    const r1 = await alice.addRecord(patient, RECORD)
    const r2 = await alice.addRecord(patient, { ...RECORD, title: 'second' })
    const n1 = await alice.table(notes).insert(patient, { text: 'note', label: 'l' })
    const chart = await alice.readChart(patient)
    expect(chart.state).to.equal('verified')
    expect(chart.records.map((r) => r.title)).to.deep.equal(['first title', 'second'])
    expect((await vault.verifyChart(patient)).ok).to.equal(true)
    return { patient, r1, r2, n1 }
  }

  async function readChartRefusal(patient: string): Promise<IntegrityError> {
    const err = await alice.readChart(patient).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).to.be.instanceOf(IntegrityError)
    return err as IntegrityError
  }

  const kinds = (findings: readonly ChartFinding[]) => findings.map((f) => f.kind)

  it('tracks every write: inserts, updates, a field set to NULL and back, deletes, a rotation and a revoke', async () => {
    const { patient, r1, r2, n1 } = await newChart('Tracked Writes')
    await alice.updateRecord(patient, r1, { title: 'changed', code: null })
    await alice.updateRecord(patient, r1, { code: 'I10' })
    await alice.updatePatient(patient, { phone: null, email: 'a@example.org' })
    await alice.deleteRecord(patient, r2)
    await alice.table(notes).update(patient, n1, { flag: 'set' })
    await alice.rotatePatientKey(patient)
    const b = await registerTestUser(vault, 'cs-bob')
    await alice.grant(patient, b.user.id)
    await alice.revoke(patient, b.user.id)
    await alice.table(notes).delete(patient, n1)

    const chart = await alice.readChart(patient)
    expect(chart.state).to.equal('verified')
    expect(chart.records.map((r) => [r.title, r.code])).to.deep.equal([
      ['changed', 'I10'],
    ])
    expect(chart.patient.phone).to.equal(null)
    expect(chart.patient.email).to.equal('a@example.org')
    expect(await vault.verifyChart(patient)).to.deep.equal({
      patientId: patient,
      ok: true,
      recorded: true,
      findings: [],
    })
    // Every write's audit row carries the state it left; the chain still verifies.
    const [state] = await db('emr_vault_chart_states').where('patient_id', bytes(patient))
    expect(Number(state.write_seq)).to.equal(12)
    const [last] = await db('audit_log')
      .where({ patient_id: bytes(patient), outcome: 'success' })
      .andWhere('detail', 'like', '%chart %')
      .orderBy('seq', 'desc')
      .limit(1)
    expect(last.action).to.equal('row.delete')
    expect(last.detail).to.match(/ chart 12:[0-9a-f]{32}$/)
    expect((await verifyAuditChain(db, TEST_AUDIT_KEY)).ok).to.equal(true)
  })

  it('keeps step with concurrent writes of one patient', async () => {
    const { patient, r1 } = await newChart('Concurrent Writes')
    await Promise.all([
      ...Array.from({ length: 8 }, (_, i) =>
        alice.addRecord(patient, { ...RECORD, title: `c${i}` }),
      ),
      ...Array.from({ length: 4 }, (_, i) =>
        alice.updateRecord(patient, r1, { body: `b${i}` }),
      ),
    ])
    const chart = await alice.readChart(patient)
    expect(chart.state).to.equal('verified')
    expect(chart.records).to.have.length(10)
    expect((await vault.verifyChart(patient)).ok).to.equal(true)
  })

  it('a value put back to its previous envelope: readChart refuses (value_replaced); a single-record read does not notice', async () => {
    const { patient, r1 } = await newChart('Rolled Back Value')
    const [old] = await db('clinical_records').where('id', bytes(r1))
    await alice.updateRecord(patient, r1, { title: 'corrected diagnosis' })
    await db('clinical_records')
      .where('id', bytes(r1))
      .update({ title_enc: old.title_enc })

    // The older envelope's tag still verifies for its row: reads of one row cannot tell.
    expect((await alice.readRecord(patient, r1)).title).to.equal('first title')
    const err = await readChartRefusal(patient)
    expect(err.message).to.match(/value_replaced/)
    expect(kinds((await vault.verifyChart(patient)).findings)).to.deep.equal([
      'value_replaced',
    ])
  })

  it('a record deleted in raw SQL: row_missing, in the chart tables and in an application table', async () => {
    const { patient, r2, n1 } = await newChart('Deleted Rows')
    await db('clinical_records').where('id', bytes(r2)).delete()
    expect((await readChartRefusal(patient)).message).to.match(/row_missing/)
    expect(kinds((await vault.verifyChart(patient)).findings)).to.deep.equal([
      'row_missing',
    ])

    const other = await newChart('Deleted App Row')
    await db('cs_notes').where('id', bytes(other.n1)).delete()
    expect((await readChartRefusal(other.patient)).message).to.match(/row_missing/)
    expect(n1).to.be.a('string')
  })

  it('an optional field set to NULL in raw SQL: field_nulled', async () => {
    const { patient } = await newChart('Nulled Field')
    await db('patients').where('id', bytes(patient)).update({ phone_enc: null })
    // The patient row alone reads fine: a NULL is a legal value of the field.
    expect((await alice.readPatient(patient)).phone).to.equal(null)
    expect((await readChartRefusal(patient)).message).to.match(/field_nulled/)
    expect(kinds((await vault.verifyChart(patient)).findings)).to.deep.equal([
      'field_nulled',
    ])
  })

  it('a row moved to another patient: row_missing for one, row_added for the other, whose read of it fails its tag', async () => {
    const a = await newChart('Moved From')
    const b = await newChart('Moved To')
    await db('clinical_records')
      .where('id', bytes(a.r1))
      .update({ patient_id: bytes(b.patient) })
    expect((await readChartRefusal(a.patient)).message).to.match(/row_missing/)
    expect((await readChartRefusal(b.patient)).message).to.match(/row_added/)
    expect(kinds((await vault.verifyChart(b.patient)).findings)).to.deep.equal([
      'row_added',
    ])
    // Sealed under the other patient's key: opening it here fails its tag.
    const listed = await alice.listRecords(b.patient).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(listed).to.be.instanceOf(IntegrityError)
  })

  it('the chart and its state put back together from a backup: readChart cannot tell, verifyChart finds state_rolled_back', async () => {
    const { patient, r1 } = await newChart('Replayed Chart')
    const [oldRow] = await db('clinical_records').where('id', bytes(r1))
    const [oldState] = await db('emr_vault_chart_states').where(
      'patient_id',
      bytes(patient),
    )
    await alice.updateRecord(patient, r1, { title: 'allergy to penicillin' })
    await db('clinical_records')
      .where('id', bytes(r1))
      .update({ title_enc: oldRow.title_enc })
    await db('emr_vault_chart_states')
      .where('patient_id', bytes(patient))
      .update(oldState)

    const chart = await alice.readChart(patient)
    expect(chart.state).to.equal('verified')
    expect(chart.records[0]!.title).to.equal('first title')
    const verified = await vault.verifyChart(patient)
    expect(verified.ok).to.equal(false)
    expect(kinds(verified.findings)).to.deep.equal(['state_rolled_back'])
  })

  it('the audit log cut after a chart write, its old head put back: the chain alone verifies, verifyChart finds state_unaudited', async () => {
    const { patient, r1 } = await newChart('Cut Log')
    const [head] = await db('audit_chain_head').where('id', 1)
    const [last] = await db('audit_log').max({ seq: 'seq' })
    await alice.updateRecord(patient, r1, { title: 'written, then its audit row cut' })
    await db('audit_log').where('seq', '>', last!.seq).delete()
    await db('audit_chain_head').where('id', 1).update(head)

    // Without an anchor the chain cannot tell (docs/integrity.md): the chart can.
    expect((await verifyAuditChain(db, TEST_AUDIT_KEY)).ok).to.equal(true)
    expect((await alice.readChart(patient)).state).to.equal('verified')
    expect(kinds((await vault.verifyChart(patient)).findings)).to.deep.equal([
      'state_unaudited',
    ])
  })

  it('a chart forked from a backup, one branch written, the other put back: verifyChart finds state_replaced', async () => {
    const { patient, r1 } = await newChart('Forked Chart')
    const rowOf = async () => (await db('clinical_records').where('id', bytes(r1)))[0]
    const stateOf = () => db('emr_vault_chart_states').where('patient_id', bytes(patient))
    const [row0, [state0]] = [await rowOf(), await stateOf()]
    await alice.updateRecord(patient, r1, { title: 'branch A' })
    const [rowA, [stateA]] = [await rowOf(), await stateOf()]
    // Back to the fork point, and the same write counter written again.
    await db('clinical_records').where('id', bytes(r1)).update(row0)
    await stateOf().update(state0)
    await alice.updateRecord(patient, r1, { title: 'branch B' })
    expect((await vault.verifyChart(patient)).ok).to.equal(true)
    // Branch A, rows and state together, at the counter the audit trail records for B.
    await db('clinical_records').where('id', bytes(r1)).update(rowA)
    await stateOf().update(stateA)

    const chart = await alice.readChart(patient)
    expect(chart.records[0]!.title).to.equal('branch A')
    expect(kinds((await vault.verifyChart(patient)).findings)).to.deep.equal([
      'state_replaced',
    ])
  })

  it('a state row edited: reads and writes refused (state_tampered) until an administrator records it again', async () => {
    const { patient, r1 } = await newChart('Tampered State')
    await db('emr_vault_chart_states')
      .where('patient_id', bytes(patient))
      .update({ row_count: 99 })
    expect((await readChartRefusal(patient)).message).to.match(/state_tampered/)
    const write = await alice.updateRecord(patient, r1, { title: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(write).to.be.instanceOf(IntegrityError)
    expect((await alice.readRecord(patient, r1)).title).to.equal('first title')
    // A revoke (a rotation) still goes through, and leaves the state failing.
    await alice.rotatePatientKey(patient)
    expect(kinds((await vault.verifyChart(patient)).findings)).to.include(
      'state_tampered',
    )

    await vault.recordChartStates(admin, { reset: patient })
    expect((await alice.readChart(patient)).state).to.equal('verified')
    await alice.updateRecord(patient, r1, { title: 'after reset' })
    expect((await vault.verifyChart(patient)).ok).to.equal(true)
  })

  it('a state row deleted: readChart refuses (state_missing), the baseline refuses it, and reset records it again', async () => {
    const { patient } = await newChart('Deleted State')
    await db('emr_vault_chart_states').where('patient_id', bytes(patient)).delete()
    expect((await readChartRefusal(patient)).message).to.match(/state_missing/)
    expect(kinds((await vault.verifyChart(patient)).findings)).to.deep.equal([
      'state_missing',
    ])
    const baseline = await vault.recordChartStates(admin)
    expect(baseline.refused).to.deep.equal([patient])
    await vault.recordChartStates(admin, { reset: patient })
    expect((await vault.verifyChart(patient)).ok).to.equal(true)
  })

  it('refuses a baseline or reset by a user without the admin role, and a reset of no patient', async () => {
    const refusal = await vault.recordChartStates(alice).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((refusal as { code?: string }).code).to.equal('ACCESS_DENIED')
    const bad = await vault
      .recordChartStates(admin, { reset: '00000000-0000-7000-8000-000000000000' })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect((bad as { code?: string }).code).to.equal('VALIDATION')
  })
})

describe('chart state of a database from before chart states', function () {
  this.timeout(120_000)
  const own = useOwnDatabase()

  it('records every patient once, from the rows as they are; charts then read verified', async () => {
    const db = own.db()
    const { vault } = testVault({ db })
    const a = await registerTestUser(vault, 'cb-alice')
    const ad = await registerTestUser(vault, 'cb-admin', ['admin'])
    const alice = await vault.login(a.username, a.password)
    const admin = await vault.login(ad.username, ad.password)
    try {
      const patients: string[] = []
      for (let i = 0; i < 5; i++) {
        const p = await alice.createPatient({
          fullName: `Old ${i}`,
          dateOfBirth: '1950-05-05',
        })
        await alice.addRecord(p, { ...RECORD, title: `old ${i}` })
        patients.push(p)
      }
      // As an older database holds it: no states, and an audit trail without them
      // (an empty chain from its genesis head, as migration 0002 seeds it).
      await db('emr_vault_chart_states').delete()
      await db('audit_log').delete()
      await db('audit_chain_head')
        .where('id', 1)
        .update({ last_seq: 0, last_mac: Buffer.alloc(32), head_mac: Buffer.alloc(32) })

      const chart = await alice.readChart(patients[0]!)
      expect(chart.state).to.equal('not_recorded')
      expect(chart.records[0]!.title).to.equal('old 0')
      // Writes before the baseline work, and leave the patient unrecorded.
      await alice.addRecord(patients[1]!, { ...RECORD, title: 'between' })
      expect((await vault.verifyChart(patients[1]!)).recorded).to.equal(false)

      expect(await vault.recordChartStates(admin)).to.deep.equal({
        recorded: 5,
        refused: [],
      })
      expect(await vault.recordChartStates(admin)).to.deep.equal({
        recorded: 0,
        refused: [],
      })
      for (const p of patients) {
        expect((await alice.readChart(p)).state).to.equal('verified')
        expect((await vault.verifyChart(p)).ok).to.equal(true)
      }
      expect((await alice.readChart(patients[1]!)).records).to.have.length(2)
      expect((await verifyAuditChain(db, TEST_AUDIT_KEY)).ok).to.equal(true)
    } finally {
      alice.close()
      admin.close()
    }
  })
})
