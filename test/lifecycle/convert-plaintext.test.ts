import type mysql from 'mysql2/promise'
import { expect } from '../support/chai.js'
import { AccessDeniedError, ValidationError } from '../../src/errors/index.js'
import { auditReport } from '../../src/services/audit.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import {
  createMedicationsTable,
  createPatients,
  DRUG_MAX_BYTES,
  legacyConnection,
  medications,
  openAll,
  rawDump,
  rowValues,
  writeLegacyRows,
  type SourceRowValues,
} from '../support/conversion-fixture.js'
import { expectAuditChainVerifies } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

describe('convert a plaintext column into a declared encrypted field', function () {
  this.timeout(120_000)
  // The conversion walks the patients of the table and the tests count audit
  // rows: on a database of its own, both are this suite's alone.
  const own = useOwnDatabase()
  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  let admin: Session
  let clinician: Session
  let clinicianPassword: string
  let legacy: mysql.Connection
  let tableNo = 0

  before(async () => {
    ;({ vault, recovery } = testVault({ db: own.db() }))
    const a = await registerTestUser(vault, 'cv-admin', ['admin'])
    const c = await registerTestUser(vault, 'cv-clinician')
    admin = await vault.login(a.username, a.password)
    clinician = await vault.login(c.username, c.password)
    clinicianPassword = c.password
    legacy = await legacyConnection(own.name())
  })
  after(async () => {
    admin?.close()
    clinician?.close()
    await legacy?.end()
  })

  const authority = () => ({ admin, recoveryPrivateKey: recovery.privateKey })

  /** A fresh table of `patients` × `rows` plaintext drugs; its name and rows. */
  async function setUp(patients: number, rows: number) {
    const table = `meds_pt_${++tableNo}`
    await createMedicationsTable(own.db(), table)
    const ids = await createPatients(clinician, patients, 4)
    const values = ids.flatMap((id) => rowValues(id, rows, table))
    await writeLegacyRows(legacy, table, values, { tableKey: Buffer.from('unused') })
    return { table, ids, values }
  }

  async function countAudit(
    action: 'convert.plaintext' | 'convert.drop',
    outcome = 'success',
  ) {
    return (await auditReport(own.db(), { action, outcome: outcome as 'success' })).length
  }

  async function expectConverted(table: string, values: readonly SourceRowValues[]) {
    const opened = await openAll(own.db(), recovery, table, ['drug_enc'])
    for (const v of values) expect(opened.get(v.id)?.['drug_enc'], v.id).to.equal(v.drug)
    const dump = await rawDump(legacy, table)
    for (const v of values)
      expect(
        dump.includes(Buffer.from(v.drug, 'utf8')),
        `plaintext of ${v.id} in the dump`,
      ).to.equal(false)
    const [[left]] = (await legacy.query(
      'SELECT COUNT(*) AS n FROM ?? WHERE drug_plain IS NOT NULL',
      [table],
    )) as [{ n: number }[], unknown]
    expect(Number(left!.n)).to.equal(0)
  }

  it('seals every value under its patient key, clears the plaintext, records one audit row per patient, and a second run finds nothing', async () => {
    const { table, ids, values } = await setUp(4, 3)
    // A row the application updated through the repository meanwhile: its
    // envelope is newer than its plaintext, which is only cleared.
    const updated = values[0]!
    const before = await countAudit('convert.plaintext')
    const progress: unknown[] = []
    const result = await vault.convertPlaintextColumn(authority(), medications(table), {
      field: 'drug',
      onProgress: (p) => progress.push(p),
    })
    expect(result).to.deep.equal({
      table,
      field: 'drug',
      column: 'drug_plain',
      dryRun: false,
      patients: 4,
      rows: 12,
      cleared: 0,
      finished: true,
      remaining: { patients: 0, rows: 0 },
    })
    expect(progress).to.deep.equal(
      [1, 2, 3, 4].map((n) => ({ patients: n, rows: 3 * n, total: 4 })),
    )
    await expectConverted(table, values)
    expect(await countAudit('convert.plaintext')).to.equal(before + 4)
    const rows = await auditReport(own.db(), {
      action: 'convert.plaintext',
      patientId: ids[0]!,
    })
    // The detail ends with the chart state the conversion moved (chart-tags.ts).
    expect(rows).to.have.length(1)
    expect(rows[0]!.detail).to.match(
      new RegExp(`^table=${table} field=drug rows=3 cleared=0 chart 2:[0-9a-f]{32}$`),
    )
    await expectAuditChainVerifies(own.db())

    // Plaintext written to the old column again after its row was sealed (an
    // old writer still running): cleared, the envelope kept.
    await legacy.query('UPDATE ?? SET drug_plain = ? WHERE id = UNHEX(?)', [
      table,
      'stale write',
      updated.id.replace(/-/g, ''),
    ])
    const again = await vault.convertPlaintextColumn(authority(), medications(table), {
      field: 'drug',
    })
    expect(again).to.deep.include({ patients: 1, rows: 0, cleared: 1, finished: true })
    await expectConverted(table, values)
    const nothing = await vault.convertPlaintextColumn(authority(), medications(table), {
      field: 'drug',
    })
    expect(nothing).to.deep.include({ patients: 0, rows: 0, cleared: 0, finished: true })
  })

  it('while it runs, the repository reads the plaintext of unconverted rows, and a write of the field clears its plaintext in the same statement', async () => {
    const { table, values } = await setUp(1, 2)
    const decl = medications(table)
    const { vault: appVault } = testVault({ db: own.db(), tables: [decl] })
    const c = await appVault.login(clinician.username, clinicianPassword)
    try {
      const [first, second] = values as [SourceRowValues, SourceRowValues]
      const meds = c.table(decl)
      expect((await meds.get(first.patientId, first.id)).drug).to.equal(first.drug)
      await meds.update(first.patientId, first.id, { drug: 'changed by the app' })
      const [[row]] = (await legacy.query(
        'SELECT drug_plain AS p FROM ?? WHERE id = UNHEX(REPLACE(?, "-", ""))',
        [table, first.id],
      )) as [{ p: string | null }[], unknown]
      expect(row!.p).to.equal(null)
      expect((await meds.get(first.patientId, first.id)).drug).to.equal(
        'changed by the app',
      )
      expect((await meds.get(second.patientId, second.id)).drug).to.equal(second.drug)
    } finally {
      c.close()
    }
  })

  it('dry run: counts what would change, checks every value, writes nothing', async () => {
    const { table, values } = await setUp(3, 2)
    const dumpBefore = await rawDump(legacy, table)
    const before = await countAudit('convert.plaintext')
    const result = await vault.convertPlaintextColumn(authority(), medications(table), {
      field: 'drug',
      dryRun: true,
    })
    expect(result).to.deep.include({
      dryRun: true,
      patients: 3,
      rows: 6,
      finished: true,
      remaining: { patients: 3, rows: 6 },
    })
    expect((await rawDump(legacy, table)).equals(dumpBefore)).to.equal(true)
    expect(await countAudit('convert.plaintext')).to.equal(before)
    // A value the field refuses is found by the dry run, naming its row.
    const bad = values[3]!
    await legacy.query('UPDATE ?? SET drug_plain = ? WHERE id = UNHEX(?)', [
      table,
      '✓'.repeat(Math.ceil((DRUG_MAX_BYTES + 1) / 3)),
      bad.id.replace(/-/g, ''),
    ])
    const refused = await expect(
      vault.convertPlaintextColumn(authority(), medications(table), {
        field: 'drug',
        dryRun: true,
      }),
    ).to.be.rejectedWith(ValidationError)
    expect(refused.field).to.equal(`${table}.drug of row ${bad.id}`)
    expect(refused.message).to.not.include('✓✓')
    expect((await rawDump(legacy, table)).length).to.be.greaterThan(0)
  })

  it('a value the field refuses stops the run at its patient, which is left as it was; earlier patients stay converted', async () => {
    const { table, ids, values } = await setUp(3, 2)
    const sorted = [...ids].sort()
    const badRow = values.find((v) => v.patientId === sorted[1])!
    await legacy.query('UPDATE ?? SET drug_plain = ? WHERE id = UNHEX(?)', [
      table,
      '✓'.repeat(Math.ceil((DRUG_MAX_BYTES + 1) / 3)),
      badRow.id.replace(/-/g, ''),
    ])
    await expect(
      vault.convertPlaintextColumn(authority(), medications(table), { field: 'drug' }),
    ).to.be.rejectedWith(ValidationError, badRow.id)
    const [rows] = (await legacy.query(
      'SELECT HEX(patient_id) AS p, drug_plain IS NULL AS converted, drug_enc IS NOT NULL AS sealed FROM ??',
      [table],
    )) as [{ p: string; converted: number; sealed: number }[], unknown]
    const of = (id: string) =>
      rows.filter((r) => r.p.toLowerCase() === id.replace(/-/g, ''))
    expect(of(sorted[0]!).map((r) => [r.converted, r.sealed])).to.deep.equal([
      [1, 1],
      [1, 1],
    ])
    for (const id of sorted.slice(1))
      expect(of(id).map((r) => [r.converted, r.sealed])).to.deep.equal([
        [0, 0],
        [0, 0],
      ])
  })

  it("a caller's toValue that throws is refused by row, without its message (it may quote the value); nothing is written", async () => {
    const { table, values } = await setUp(1, 1)
    const before = await rawDump(legacy, table)
    const err = await vault
      .convertPlaintextColumn(authority(), medications(table), {
        field: 'drug',
        toValue: (raw) => {
          throw new SyntaxError(`Unexpected token in ${String(raw)}`)
        },
      })
      .catch((e: unknown) => e)
    expect(err).to.be.instanceOf(ValidationError)
    expect((err as Error).message).to.include(values[0]!.id)
    expect((err as Error).message).not.to.include(values[0]!.drug)
    expect((err as Error).cause).to.equal(undefined)
    expect((await rawDump(legacy, table)).equals(before)).to.equal(true)
  })

  it('stops between two patients when signalled; the next call resumes and finishes', async () => {
    const { table, values } = await setUp(5, 1)
    const stop = new AbortController()
    const first = await vault.convertPlaintextColumn(authority(), medications(table), {
      field: 'drug',
      signal: stop.signal,
      onProgress: (p) => p.patients === 2 && stop.abort(),
    })
    expect(first).to.deep.include({
      patients: 2,
      rows: 2,
      finished: false,
      remaining: { patients: 3, rows: 3 },
    })
    const second = await vault.convertPlaintextColumn(authority(), medications(table), {
      field: 'drug',
    })
    expect(second).to.deep.include({ patients: 3, rows: 3, finished: true })
    await expectConverted(table, values)
  })

  it('bad input is a typed error and nothing is written', async () => {
    const { table } = await setUp(1, 2)
    const dumpBefore = await rawDump(legacy, table)
    const before = await countAudit('convert.plaintext')
    const convert = (decl: unknown, field: unknown, who = authority()) =>
      vault.convertPlaintextColumn(who, decl as ReturnType<typeof medications>, {
        field: field as string,
      })
    const refused = async (p: Promise<unknown>, field: string, message: RegExp) => {
      const err = await expect(p).to.be.rejectedWith(ValidationError)
      expect(err.field).to.equal(field)
      expect(err.message).to.match(message)
    }
    await refused(convert({ name: table }, 'drug'), 'table', /defineTable/)
    await refused(convert(medications(table), 'dose'), 'field', /encrypted field of/)
    await refused(
      convert(medications(table), 'note'),
      'field',
      /convertingFrom: \{ note:/,
    )
    await refused(
      convert(medications(table, false), 'drug'),
      'field',
      /is not converting/,
    )
    await refused(
      convert(medications('no_such_table'), 'drug'),
      'table',
      /does not exist/,
    )
    await legacy.query('ALTER TABLE ?? RENAME COLUMN drug_plain TO drug_old', [table])
    try {
      await refused(
        convert(medications(table), 'drug'),
        'field',
        /has no column drug_plain/,
      )
    } finally {
      await legacy.query('ALTER TABLE ?? RENAME COLUMN drug_old TO drug_plain', [table])
    }
    await expect(
      convert(medications(table), 'drug', {
        admin: clinician,
        recoveryPrivateKey: recovery.privateKey,
      }),
    ).to.be.rejectedWith(AccessDeniedError)
    expect((await rawDump(legacy, table)).equals(dumpBefore)).to.equal(true)
    expect(await countAudit('convert.plaintext')).to.equal(before)
  })

  it('drop-plaintext: refused while a value remains or the declaration still reads the column; then drops it, audited', async () => {
    const { table, values } = await setUp(2, 2)
    const converted = medications(table, false)
    const drop = () => vault.dropPlaintextColumn(admin, converted, 'drug_plain')
    await expect(drop()).to.be.rejectedWith(ValidationError, /still holds values/)
    await vault.convertPlaintextColumn(authority(), medications(table), { field: 'drug' })
    await expect(
      vault.dropPlaintextColumn(admin, medications(table), 'drug_plain'),
    ).to.be.rejectedWith(ValidationError, /still read by .*convertingFrom\.drug/)
    await expect(
      vault.dropPlaintextColumn(admin, converted, 'drug_enc'),
    ).to.be.rejectedWith(ValidationError, /a column of the declaration/)
    await expect(
      vault.dropPlaintextColumn(clinician, converted, 'drug_plain'),
    ).to.be.rejectedWith(AccessDeniedError)
    const before = await countAudit('convert.drop')
    expect(await drop()).to.deep.equal({ table, column: 'drug_plain' })
    const [cols] = (await legacy.query('SHOW COLUMNS FROM ??', [table])) as [
      { Field: string }[],
      unknown,
    ]
    expect(cols.map((c) => c.Field)).to.not.include('drug_plain')
    expect(await countAudit('convert.drop')).to.equal(before + 1)
    const opened = await openAll(own.db(), recovery, table, ['drug_enc'])
    for (const v of values) expect(opened.get(v.id)?.['drug_enc']).to.equal(v.drug)
    await expectAuditChainVerifies(own.db())
  })
})
