import type { Knex } from 'knex'
import { reportOf } from '../../src/cli/error-report.js'
import { newRowId, rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import { AccessDeniedError, type VaultError } from '../../src/errors/index.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { Session } from '../../src/services/session.js'
import { expect } from '../support/chai.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  testVault,
} from '../support/vault-fixture.js'

const vitals = defineTable({
  name: 'app_probe_vitals',
  encrypted: { pulse: encrypted.integer() },
})

/** What a caller (or the CLI, or someone reading the audit log) sees of a refusal. */
interface Answer {
  readonly error: string
  readonly code: string
  readonly message: string
  readonly exitCode: number
  readonly audit: readonly string[]
}

/**
 * Whether a patient id exists must not show: every patient-scoped call made by
 * a session answers an id of no patient exactly as it answers a patient that
 * exists but that the session holds no grant for.
 */
describe('patient ids cannot be probed: no patient is answered as no grant', () => {
  const own = useOwnDatabase()
  let db: Knex
  let alice: Session
  let bob: Session
  let carolId: string
  let patientId: string
  let recordId: string
  let rowId: string

  before(async function () {
    this.timeout(60_000)
    db = own.db()
    await createEncryptedTable(db, vitals)
    const { vault } = testVault({ db, tables: [vitals] })
    const a = await registerTestUser(vault, 'probe-alice')
    // bob has the emergency role but not the emergency key.
    const b = await registerTestUser(vault, 'probe-bob', ['clinician', 'emergency'])
    carolId = (await registerTestUser(vault, 'probe-carol')).user.id
    alice = await vault.login(a.username, a.password)
    bob = await vault.login(b.username, b.password)
    patientId = await alice.createPatient(demoDemographics())
    recordId = await alice.addRecord(patientId, {
      kind: 'note',
      occurredOn: '2026-01-01',
      title: 'Fine',
    })
    rowId = await alice.table(vitals).insert(patientId, { pulse: 60 })
  })
  after(() => {
    alice?.close()
    bob?.close()
  })

  /** bob's call on `pid`: the error and the audit rows it left for that id. */
  async function answer(
    call: (pid: string) => Promise<unknown>,
    pid: string,
  ): Promise<Answer> {
    const [last] = await db('audit_log').max({ seq: 'seq' })
    const err = (await call(pid).then(
      () => undefined,
      (e: unknown) => e,
    )) as VaultError
    expect(err, 'refused').to.be.instanceOf(AccessDeniedError)
    const report = reportOf(err)
    const rows = (await db('audit_log')
      .where('seq', '>', String(last!.seq))
      .orderBy('seq')) as {
      action: string
      outcome: string
      detail: string | null
      patient_id: Buffer | null
      actor_user_id: Buffer | null
    }[]
    return {
      error: err.name,
      code: err.code,
      message: err.message.replaceAll(pid, '<id>'),
      exitCode: report.exitCode,
      audit: rows.map(
        (r) =>
          `${r.action} ${r.outcome} ${r.detail} patient=${r.patient_id && rowIdToString(r.patient_id) === pid ? '<id>' : String(r.patient_id)} actor=${r.actor_user_id && rowIdToString(r.actor_user_id) === bob.userId ? 'bob' : 'other'}`,
      ),
    }
  }

  const calls: [string, (pid: string) => Promise<unknown>][] = [
    ['readPatient', (pid) => bob.readPatient(pid)],
    ['updatePatient', (pid) => bob.updatePatient(pid, { phone: '+1 555 0100' })],
    [
      'addRecord',
      (pid) => bob.addRecord(pid, { kind: 'note', occurredOn: '2026-01-02', title: 'x' }),
    ],
    ['listRecords', (pid) => bob.listRecords(pid)],
    ['readRecord', (pid) => bob.readRecord(pid, recordId)],
    ['updateRecord', (pid) => bob.updateRecord(pid, recordId, { title: 'y' })],
    ['deleteRecord', (pid) => bob.deleteRecord(pid, recordId)],
    ['table.insert', (pid) => bob.table(vitals).insert(pid, { pulse: 70 })],
    ['table.get', (pid) => bob.table(vitals).get(pid, rowId)],
    ['table.list', (pid) => bob.table(vitals).list(pid)],
    ['table.open', (pid) => bob.table(vitals).open(pid, [rowId])],
    ['table.update', (pid) => bob.table(vitals).update(pid, rowId, { pulse: 80 })],
    ['table.delete', (pid) => bob.table(vitals).delete(pid, rowId)],
    ['grant', (pid) => bob.grant(pid, carolId)],
    ['revoke', (pid) => bob.revoke(pid, alice.userId)],
    ['rotatePatientKey', (pid) => bob.rotatePatientKey(pid)],
    ['listAccess', (pid) => bob.listAccess(pid)],
    // bob has the role but not the emergency key: until he holds it, no id is his to open.
    ['breakGlass', (pid) => bob.breakGlass(pid, 'checking a chart in an emergency')],
  ]

  for (const [name, call] of calls) {
    it(`${name}: the same error, code, CLI exit and denied audit row`, async () => {
      const missing = rowIdToString(newRowId())
      const absent = await answer(call, missing)
      const ungranted = await answer(call, patientId)
      expect(absent).to.deep.equal(ungranted)
      expect(absent.code).to.equal('ACCESS_DENIED')
      expect(absent.exitCode).to.equal(4)
      expect(absent.audit).to.have.length(1)
      expect(absent.audit[0]).to.match(/ denied access_denied patient=<id> actor=bob$/)
    })
  }

  it('nothing of the patient changed, and no row was written for the id of no patient', async () => {
    const p = await alice.readPatient(patientId)
    expect([p.phone, p.keyVersion]).to.deep.equal([DEMO_DEMOGRAPHICS.phone, 1])
    expect((await alice.readRecord(patientId, recordId)).title).to.equal('Fine')
    expect((await alice.table(vitals).get(patientId, rowId)).pulse).to.equal(60)
    expect((await alice.listAccess(patientId)).map((e) => e.userId)).to.deep.equal([
      alice.userId,
    ])
    expect(
      Number(
        (
          await db('patients')
            .whereNot('id', rowIdFromString(patientId, 'patientId'))
            .count({ n: '*' })
        )[0]!.n,
      ),
    ).to.equal(0)
  })
})
