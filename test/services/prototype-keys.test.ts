import type { Knex } from 'knex'
import { ValidationError } from '../../src/errors/index.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { plain } from '../../src/schema/plain-columns.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import { auditReport } from '../../src/services/audit.service.js'
import { verifyAuditChain } from '../../src/services/audit-verify.js'
import { verifyPatientChart } from '../../src/services/chart.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { expect } from '../support/chai.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  RUN_RECOVERY,
  TEST_AUDIT_KEY,
  testPassword,
  testVault,
  uniqueName,
} from '../support/vault-fixture.js'

const notes = defineTable({
  name: 'app_proto_notes',
  encrypted: { text: encrypted.text({ maxBytes: 400 }) },
  plain: { status: plain.text({ maxLength: 20 }) },
  convertingFrom: { text: 'text_plain' },
})

/**
 * Keys named like Object.prototype members, and a JSON `"__proto__"` (an own
 * property once parsed, whose value would be a valid change if it were read).
 */
function withPrototypeKey(
  valid: Record<string, unknown>,
  key: string,
  inner: Record<string, unknown>,
): Record<string, unknown> {
  const extra =
    key === '__proto__'
      ? (JSON.parse(`{"__proto__": ${JSON.stringify(inner)}}`) as Record<string, unknown>)
      : { [key]: 'x' }
  // Spread defines properties (no [[Set]]): "__proto__" stays an own key.
  const input = { ...valid, ...extra }
  expect(Object.keys(input)).to.include(key)
  return input
}

const KEYS = ['constructor', 'toString', '__proto__', 'hasOwnProperty'] as const

const TABLES = [
  'users',
  'patients',
  'patient_key_grants',
  'clinical_records',
  'audit_log',
  'app_proto_notes',
]

async function counts(db: Knex): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const t of TABLES) out[t] = Number((await db(t).count({ n: '*' }))[0]!.n)
  return out
}

describe('input keys are checked as own properties: a prototype-named key is refused', () => {
  const own = useOwnDatabase()
  let vault: Vault
  let db: Knex
  let session: Session
  let admin: Session
  let creds: { username: string; password: string }
  let patientId: string
  let recordId: string
  let noteId: string
  let before0: Record<string, number>
  let lastSeq: string

  before(async function () {
    this.timeout(60_000)
    db = own.db()
    await createEncryptedTable(db, notes)
    await db.schema.alterTable('app_proto_notes', (t) => t.string('text_plain', 400))
    ;({ vault } = testVault({ db, tables: [notes] }))
    creds = await registerTestUser(vault, 'proto', ['clinician', 'admin'])
    session = await vault.login(creds.username, creds.password)
    admin = session
    patientId = await session.createPatient(demoDemographics())
    recordId = await session.addRecord(patientId, {
      kind: 'note',
      occurredOn: '2026-01-01',
      title: 'Fine',
    })
    noteId = await session.table(notes).insert(patientId, { text: 'a', status: 'open' })
  })
  async function baseline(): Promise<void> {
    before0 = await counts(db)
    const [last] = await db('audit_log').max({ seq: 'seq' })
    lastSeq = String(last!.seq)
  }
  beforeEach(baseline)
  afterEach(async () => {
    // Nothing written, and no audit row of any outcome.
    expect(await counts(db)).to.deep.equal(before0)
    const [newer] = await db('audit_log').where('seq', '>', lastSeq).count({ n: '*' })
    expect(Number(newer!.n)).to.equal(0)
  })
  after(() => session?.close())

  /** Each key on `valid`, through `call`: a ValidationError naming that key. */
  async function refusesEach(
    what: string,
    valid: Record<string, unknown>,
    inner: Record<string, unknown>,
    call: (input: Record<string, unknown>) => Promise<unknown>,
  ): Promise<void> {
    for (const key of KEYS) {
      const err = await call(withPrototypeKey(valid, key, inner)).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, `${what} with ${key}`).to.be.instanceOf(ValidationError)
      expect((err as ValidationError).field, `${what} with ${key}`).to.equal(key)
    }
  }

  it('registerUser', async () => {
    const user = {
      username: uniqueName('proto-new'),
      displayName: 'New',
      password: testPassword(),
    }
    await refusesEach('registerUser', user, { roles: ['admin'] }, (u) =>
      vault.registerUser(u as never),
    )
  })

  it('changePassword options', async () => {
    await refusesEach('changePassword', {}, { rekey: true }, (o) =>
      vault.changePassword(creds.username, creds.password, testPassword(), o),
    )
  })

  it('createPatient and updatePatient', async () => {
    await refusesEach(
      'createPatient',
      { ...DEMO_DEMOGRAPHICS },
      { createdBy: 'x' },
      (d) => session.createPatient(d as never),
    )
    await refusesEach('updatePatient', { phone: '1' }, { fullName: 'Eve' }, (c) =>
      session.updatePatient(patientId, c as never),
    )
    expect((await session.readPatient(patientId)).fullName).to.equal(
      DEMO_DEMOGRAPHICS.fullName,
    )
    await baseline() // the read's audit row
  })

  it('addRecord and updateRecord', async () => {
    const record = { kind: 'note', occurredOn: '2026-01-01', title: 'Fine' }
    await refusesEach('addRecord', record, { authorId: 'x' }, (r) =>
      session.addRecord(patientId, r as never),
    )
    await refusesEach('updateRecord', { title: 'New' }, { body: 'Eve' }, (c) =>
      session.updateRecord(patientId, recordId, c as never),
    )
  })

  it('a declared table: insert, update, list options and list where', async () => {
    const table = session.table(notes)
    await refusesEach('insert', { text: 'b', status: 'open' }, { text: 'Eve' }, (r) =>
      table.insert(patientId, r as never),
    )
    await refusesEach('update', { status: 'done' }, { text: 'Eve' }, (c) =>
      table.update(patientId, noteId, c as never),
    )
    await refusesEach('list', { limit: 5 }, { limit: 1 }, (o) =>
      table.list(patientId, o as never),
    )
    for (const key of KEYS) {
      const where = withPrototypeKey({ status: 'open' }, key, { status: 'done' })
      await expect(
        table.list(patientId, { where } as never),
        `where with ${key}`,
      ).to.be.rejectedWith(ValidationError, new RegExp(`"where.${key}"`))
    }
    // A list is ordered by a field or createdAt / updatedAt, never by a prototype member.
    for (const orderBy of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      await expect(
        table.list(patientId, { orderBy } as never),
        `orderBy ${orderBy}`,
      ).to.be.rejectedWith(ValidationError, /"orderBy"/)
    }
  })

  it('audit report filters and their after', async () => {
    await refusesEach('auditReport', { limit: 5 }, { limit: 1 }, (f) =>
      auditReport(db, f),
    )
    const [first] = await auditReport(db, { limit: 1 })
    await refusesEach('after', { ...first! }, { seq: '0' }, (after) =>
      auditReport(db, { after: after as never }),
    )
  })

  it('verifyAuditChain options and anchor', async () => {
    await refusesEach('verify', { pageSize: 10 }, { pageSize: 1 }, (o) =>
      verifyAuditChain(db, TEST_AUDIT_KEY, o),
    )
    const result = await verifyAuditChain(db, TEST_AUDIT_KEY)
    expect(result.ok).to.equal(true)
    await refusesEach('anchor', { ...result.head! }, { lastSeq: '0' }, (anchor) =>
      verifyAuditChain(db, TEST_AUDIT_KEY, { anchor: anchor as never }),
    )
  })

  it('rotateAll and conversion options', async () => {
    const authority = { admin, recoveryPrivateKey: RUN_RECOVERY.privateKey }
    await refusesEach('rotateAll', {}, { signal: null }, (o) =>
      vault.rotateAll(authority, o),
    )
    await refusesEach(
      'convertPlaintextColumn',
      { field: 'text' },
      { dryRun: false },
      (o) => vault.convertPlaintextColumn(authority, notes, o as never),
    )
    await refusesEach(
      'convertLegacyColumn',
      { field: 'text', from: 'text_plain', key: Buffer.alloc(16) },
      { dryRun: false },
      (o) => vault.convertLegacyColumn(authority, notes, o as never),
    )
  })

  it('chart baseline and verify options', async () => {
    await refusesEach('recordChartStates', {}, { reset: patientId }, (o) =>
      vault.recordChartStates(admin, o),
    )
    await refusesEach('verifyPatientChart', {}, { tables: [] }, (o) =>
      verifyPatientChart(db, TEST_AUDIT_KEY, patientId, o),
    )
  })
})
