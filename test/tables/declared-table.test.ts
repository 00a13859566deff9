import type { Knex } from 'knex'
import { rowIdFromString } from '../../src/db/row-id.js'
import {
  AccessDeniedError,
  NotFoundError,
  ValidationError,
} from '../../src/errors/index.js'
import { defineTable, type RowOf } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { plain } from '../../src/schema/plain-columns.js'
import { listCatalog } from '../../src/schema/catalog.js'
import { addEncryptedColumns, createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { expect } from '../support/chai.js'
import { expectKeyedConsistently } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { readVectorJson } from '../support/vectors.js'
import {
  demoDemographics,
  registerTestUser,
  RUN_RECOVERY,
  testVault,
} from '../support/vault-fixture.js'

interface Schedule {
  times: string[]
  withFood: boolean
}
const isSchedule = (v: unknown): v is Schedule =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as Schedule).times) &&
  typeof (v as Schedule).withFood === 'boolean'

/** An application's own table with every column type, beside the chart. */
const medications = defineTable({
  name: 'app_medications',
  encrypted: {
    drug: encrypted.text({ maxBytes: 400 }),
    dose: encrypted.decimal({ precision: 10, scale: 3 }),
    startedOn: encrypted.date(),
    lastTakenAt: encrypted.dateTime({ nullable: true }),
    refills: encrypted.integer(),
    asNeeded: encrypted.boolean(),
    schedule: encrypted.json({ maxBytes: 20_000, check: isSchedule, nullable: true }),
    scan: encrypted.bytes({ maxBytes: 4096, nullable: true }),
    note: encrypted.text({ maxBytes: 100_000, nullable: true }),
  },
  plain: {
    status: plain.enum(['active', 'stopped']),
    priority: plain.integer(),
    prescriberId: plain.rowId({ nullable: true }),
  },
})
type Medication = RowOf<typeof medications>

const ASPIRIN = {
  drug: 'Aspirin',
  dose: '81.000',
  startedOn: '2024-02-29',
  refills: 3,
  asNeeded: false,
  status: 'active',
  priority: 1,
} as const

/** The key versions in the envelope headers of one patient's rows (bytes 1–4 of each). */
async function keyVersionsIn(
  db: Knex,
  table: string,
  patientId: Buffer,
  columns: readonly string[],
): Promise<number[]> {
  const versions = new Set<number>()
  for (const row of await db(table).select(columns).where('patient_id', patientId)) {
    for (const c of columns) {
      const v = row[c] as Buffer | null
      if (v !== null) versions.add(v.readUInt32BE(1))
    }
  }
  return [...versions]
}

describe('declared tables: an application table through the repository', () => {
  const own = useOwnDatabase()
  let vault: Vault
  let alice: Session
  let bob: Session
  let patientId: string
  let otherPatient: string

  before(async function () {
    this.timeout(60_000)
    await createEncryptedTable(own.db(), medications)
    ;({ vault } = testVault({ db: own.db(), tables: [medications] }))
    const a = await registerTestUser(vault, 'dt-alice', ['clinician', 'admin'])
    const b = await registerTestUser(vault, 'dt-bob')
    alice = await vault.login(a.username, a.password)
    bob = await vault.login(b.username, b.password)
    patientId = await alice.createPatient(demoDemographics())
    otherPatient = await alice.createPatient({ ...demoDemographics(), fullName: 'Other' })
  })

  after(() => {
    alice?.close()
    bob?.close()
  })

  it('insert and get give back every declared type exactly, boundaries included', async () => {
    const meds = alice.table(medications)
    const full = {
      ...ASPIRIN,
      dose: '-9999999.999',
      refills: Number.MAX_SAFE_INTEGER,
      asNeeded: true,
      lastTakenAt: new Date('9999-12-31T23:59:59.999Z'),
      startedOn: '0001-01-01',
      schedule: { times: ['08:00', '20:00'], withFood: true },
      scan: Buffer.from([0, 1, 2, 255]),
      note: '',
      prescriberId: alice.userId,
      priority: Number.MIN_SAFE_INTEGER,
    }
    const id = await meds.insert(patientId, full)
    const row: Medication = await meds.get(patientId, id)
    expect(row).to.deep.include({ ...full, id, patientId })
    expect(row.lastTakenAt!.getTime()).to.equal(full.lastTakenAt.getTime())
    expect(row.createdAt).to.be.instanceOf(Date)

    const minimal = await meds.insert(patientId, { ...ASPIRIN, refills: -(2 ** 53 - 1) })
    expect(await meds.get(patientId, minimal)).to.deep.include({
      lastTakenAt: null,
      schedule: null,
      scan: null,
      note: null,
      prescriberId: null,
      refills: -(2 ** 53 - 1),
    })
  })

  it('the naughty-strings corpus round-trips through text and JSON columns', async function () {
    this.timeout(60_000)
    const meds = alice.table(medications)
    const strings = readVectorJson<string[]>('blns/blns.json').filter(
      (s) => Buffer.byteLength(s) <= 400,
    )
    const note = strings.join('\n')
    const id = await meds.insert(patientId, {
      ...ASPIRIN,
      drug: strings[strings.length - 1]!,
      note,
      schedule: { times: strings.slice(0, 100), withFood: false },
    })
    const row = await meds.get(patientId, id)
    expect(row.note).to.equal(note)
    expect(row.schedule!.times).to.deep.equal(strings.slice(0, 100))
    // A required text may not be blank; every other naughty string goes in as a drug name.
    for (const s of strings.filter((x) => x.trim() !== '').slice(0, 40)) {
      const rid = await meds.insert(patientId, { ...ASPIRIN, drug: s })
      expect((await meds.get(patientId, rid)).drug).to.equal(s)
    }
  })

  it('update writes only the fields given; delete removes the row', async () => {
    const meds = alice.table(medications)
    const id = await meds.insert(patientId, { ...ASPIRIN, note: 'keep me' })
    await meds.update(patientId, id, {
      dose: '100.5',
      status: 'stopped',
      lastTakenAt: new Date(0),
    })
    const row = await meds.get(patientId, id)
    expect(row).to.deep.include({
      ...ASPIRIN,
      dose: '100.5',
      status: 'stopped',
      note: 'keep me',
    })
    expect(row.lastTakenAt!.getTime()).to.equal(0)
    await meds.update(patientId, id, { note: null })
    expect((await meds.get(patientId, id)).note).to.equal(null)
    await meds.delete(patientId, id)
    await expect(meds.get(patientId, id)).to.be.rejectedWith(NotFoundError)
    await expect(meds.delete(patientId, id)).to.be.rejectedWith(NotFoundError)
  })

  it('list filters and orders on plain fields and pages by keyset', async () => {
    const meds = alice.table(medications)
    const pid = await alice.createPatient(demoDemographics())
    const ids: string[] = []
    for (let i = 0; i < 7; i++) {
      ids.push(
        await meds.insert(pid, {
          ...ASPIRIN,
          drug: `drug ${i}`,
          priority: i % 3,
          status: i % 2 === 0 ? 'active' : 'stopped',
        }),
      )
    }
    const seen: string[] = []
    let after: string | null = null
    let pages = 0
    do {
      const page: Awaited<ReturnType<typeof meds.list>> = await meds.list(pid, {
        orderBy: 'priority',
        direction: 'desc',
        limit: 3,
        after,
      })
      seen.push(...page.rows.map((r) => r.drug))
      after = page.next
      pages++
    } while (after !== null)
    expect(pages).to.equal(3)
    // priority desc, then id desc (UUIDv7: newest first among equals)
    expect(seen).to.deep.equal([
      'drug 5',
      'drug 2',
      'drug 4',
      'drug 1',
      'drug 6',
      'drug 3',
      'drug 0',
    ])
    const active = await meds.list(pid, { where: { status: 'active', priority: [0, 1] } })
    expect(active.rows.map((r) => r.drug)).to.deep.equal(['drug 0', 'drug 4', 'drug 6'])
    expect(active.next).to.equal(null)
    const none = await meds.list(pid, {
      where: { prescriberId: null, status: 'stopped' },
    })
    expect(none.rows).to.have.length(3)
  })

  it("an application's own query on plain columns, then open() for the encrypted ones", async () => {
    const meds = alice.table(medications)
    const pid = await alice.createPatient(demoDemographics())
    const a = await meds.insert(pid, { ...ASPIRIN, drug: 'A', priority: 9 })
    const b = await meds.insert(pid, { ...ASPIRIN, drug: 'B', priority: 9 })
    const found = await own
      .db()('app_medications')
      .select('id')
      .where({ patient_id: rowIdFromString(pid, 'p'), priority: 9 })
    expect(found).to.have.length(2)
    const opened = await meds.open(pid, [b, a])
    expect(opened.map((r) => r.drug)).to.deep.equal(['B', 'A'])
    await expect(meds.open(patientId, [a])).to.be.rejectedWith(NotFoundError)
  })

  it("a row of another patient is NOT_FOUND through this patient's repository; no grant is ACCESS_DENIED", async () => {
    const meds = alice.table(medications)
    const id = await meds.insert(otherPatient, ASPIRIN)
    await expect(meds.get(patientId, id)).to.be.rejectedWith(NotFoundError)
    await expect(meds.update(patientId, id, { drug: 'x' })).to.be.rejectedWith(
      NotFoundError,
    )
    await expect(meds.delete(patientId, id)).to.be.rejectedWith(NotFoundError)
    expect((await meds.get(otherPatient, id)).drug).to.equal('Aspirin')
    await expect(bob.table(medications).get(otherPatient, id)).to.be.rejectedWith(
      AccessDeniedError,
    )
    await expect(bob.table(medications).insert(otherPatient, ASPIRIN)).to.be.rejectedWith(
      AccessDeniedError,
    )
  })

  it('bad values are typed ValidationErrors that name the field, not the value, and write nothing', async () => {
    const meds = alice.table(medications)
    const before = await own.db()('app_medications').count({ n: '*' })
    const cases: [unknown, RegExp][] = [
      [{ ...ASPIRIN, drug: 'x'.repeat(401) }, /"drug"/],
      [{ ...ASPIRIN, drug: 42 }, /"drug"/],
      [{ ...ASPIRIN, dose: 1.5 }, /"dose"/],
      [{ ...ASPIRIN, dose: '12345678.1' }, /"dose"/],
      [{ ...ASPIRIN, startedOn: '2023-02-29' }, /"startedOn"/],
      [{ ...ASPIRIN, lastTakenAt: new Date('nope') }, /"lastTakenAt"/],
      [{ ...ASPIRIN, refills: 2 ** 53 }, /"refills"/],
      [{ ...ASPIRIN, asNeeded: 'yes' }, /"asNeeded"/],
      [{ ...ASPIRIN, schedule: { times: 'secret-8am' } }, /"schedule"/],
      [{ ...ASPIRIN, status: 'paused' }, /"status"/],
      [{ ...ASPIRIN, shoeSize: 9 }, /"shoeSize" is not a known field/],
      [{ ...ASPIRIN, drug: undefined }, /"drug" is required/],
      [{ ...ASPIRIN, drug: null }, /"drug" is required/],
      [{ ...ASPIRIN, id: '01900000-0000-7000-8000-000000000000' }, /"id"/],
    ]
    for (const [input, message] of cases) {
      const err = await meds.insert(patientId, input as never).catch((e: unknown) => e)
      expect(err, String(message)).to.be.instanceOf(ValidationError)
      expect((err as Error).message).to.match(message)
      expect((err as Error).message).not.to.include('secret-8am')
    }
    await expect(
      meds.list(patientId, { where: { drug: 'Aspirin' } } as never),
    ).to.be.rejectedWith(ValidationError, /encrypted/)
    await expect(
      meds.list(patientId, { orderBy: 'prescriberId' } as never),
    ).to.be.rejectedWith(ValidationError)
    await expect(meds.list(patientId, { after: 'garbage' })).to.be.rejectedWith(
      ValidationError,
      /cursor/,
    )
    expect(await own.db()('app_medications').count({ n: '*' })).to.deep.equal(before)
  })

  it('addEncryptedColumns records an existing table (made before its declaration) in the catalog', async () => {
    const db = own.db()
    await db.raw(`CREATE TABLE app_adopted (
      id BINARY(16) NOT NULL PRIMARY KEY,
      patient_id BINARY(16) NOT NULL,
      x_enc VARBINARY(200) NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      FOREIGN KEY (patient_id) REFERENCES patients (id))`)
    const adopted = defineTable({
      name: 'app_adopted',
      encrypted: { x: encrypted.text({ maxBytes: 100, nullable: true }) },
    })
    await addEncryptedColumns(db, adopted, ['x'])
    expect((await listCatalog(db)).find((e) => e.table === 'app_adopted')).to.deep.equal({
      table: 'app_adopted',
      patientColumn: 'patient_id',
      columns: ['x_enc'],
    })
  })

  it('a table not registered with the vault is refused', () => {
    const stray = defineTable({
      name: 'app_stray',
      encrypted: { x: encrypted.text({ maxBytes: 10 }) },
    })
    expect(() => alice.table(stray)).to.throw(ValidationError, /createVault/)
  })

  it('grant, revoke, rotate and rotate-all cover the app table: no value stays under a retired key version', async function () {
    this.timeout(120_000)
    const meds = alice.table(medications)
    const pid = await alice.createPatient(demoDemographics())
    const columns = medications.encryptedFields.map((f) => f.column)
    const full = {
      ...ASPIRIN,
      lastTakenAt: new Date('2026-12-02T10:11:12.345Z'),
      schedule: { times: ['09:00'], withFood: false },
      scan: Buffer.from('scan'),
      note: 'note',
    }
    const id = await meds.insert(pid, full)
    await alice.grant(pid, bob.userId)
    expect((await bob.table(medications).get(pid, id)).drug).to.equal('Aspirin')

    const revoked = await alice.revoke(pid, bob.userId)
    expect(revoked.toVersion).to.equal(2)
    await expect(bob.table(medications).get(pid, id)).to.be.rejectedWith(
      AccessDeniedError,
    )
    const pidBytes = rowIdFromString(pid, 'p')
    const versionsOf = () => keyVersionsIn(own.db(), 'app_medications', pidBytes, columns)
    expect(await versionsOf()).to.deep.equal([2])
    expect(await meds.get(pid, id)).to.deep.include(full)

    await alice.rotatePatientKey(pid)
    expect(await versionsOf()).to.deep.equal([3])
    expect(await meds.get(pid, id)).to.deep.include(full)

    const result = await vault.rotateAll({
      admin: alice,
      recoveryPrivateKey: RUN_RECOVERY.privateKey,
    })
    expect(result.finished).to.equal(true)
    expect(await versionsOf()).to.deep.equal([4])
    expect(await meds.get(pid, id)).to.deep.include(full)
    await expectKeyedConsistently(own.db(), RUN_RECOVERY, pidBytes)
  })

  it('every act is one audit row naming the table and row, never a value', async () => {
    const meds = alice.table(medications)
    const id = await meds.insert(patientId, { ...ASPIRIN, drug: 'Audited-drug' })
    await meds.get(patientId, id)
    await meds.update(patientId, id, { refills: 1 })
    await meds.list(patientId, { limit: 1 })
    await meds.delete(patientId, id)
    const rows = await own
      .db()('audit_log')
      .select('action', 'detail')
      .where('detail', 'like', 'app_medications%')
      .orderBy('seq', 'desc')
      .limit(5)
    expect(rows.map((r) => r.action).reverse()).to.deep.equal([
      'row.create',
      'row.read',
      'row.update',
      'row.list',
      'row.delete',
    ])
    expect(rows.find((r) => r.action === 'row.read')!.detail).to.equal(
      `app_medications ${id}`,
    )
    expect(JSON.stringify(rows)).not.to.include('Audited-drug')
  })
})
