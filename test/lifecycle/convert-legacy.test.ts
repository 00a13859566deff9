import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import type mysql from 'mysql2/promise'
import { expect } from '../support/chai.js'
import { mysqlAesEcbDecrypt } from '../../src/crypto/mysql-aes-ecb.js'
import { LegacyKeyError, ValidationError } from '../../src/errors/index.js'
import { auditReport } from '../../src/services/audit.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import {
  createMedicationsTable,
  createPatients,
  LEGACY_KEYS_TABLE,
  legacyConnection,
  medications,
  openAll,
  passwordKey,
  rawDump,
  rowValues,
  writeLegacyRows,
  type SourceRowValues,
} from '../support/conversion-fixture.js'
import { expectAuditChainVerifies } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

describe('convert a legacy AES_ENCRYPT (aes-128-ecb) column into a declared field', function () {
  this.timeout(120_000)
  const own = useOwnDatabase()
  let vault: Vault
  let recovery: { publicKey: Buffer; privateKey: Buffer }
  let admin: Session
  let clinician: Session
  let legacy: mysql.Connection
  let tableNo = 0

  before(async () => {
    ;({ vault, recovery } = testVault({ db: own.db() }))
    const a = await registerTestUser(vault, 'cl-admin', ['admin'])
    const c = await registerTestUser(vault, 'cl-clinician')
    admin = await vault.login(a.username, a.password)
    clinician = await vault.login(c.username, c.password)
    legacy = await legacyConnection(own.name())
  })
  after(async () => {
    admin?.close()
    clinician?.close()
    await legacy?.end()
  })

  const authority = () => ({ admin, recoveryPrivateKey: recovery.privateKey })
  const TABLE_KEY = Buffer.from('clinic-wide secret from 2014', 'utf8')

  async function setUp(
    patients: number,
    rows: number,
    scheme: { tableKey: Buffer } | { password: string },
  ) {
    const table = `meds_lg_${++tableNo}`
    await createMedicationsTable(own.db(), table)
    const ids = await createPatients(clinician, patients, 4)
    const values = ids.flatMap((id) => rowValues(id, rows, table))
    await writeLegacyRows(legacy, table, values, scheme)
    return { table, ids, values }
  }

  /** The seed's per-patient key, read in the conversion's transaction and unwrapped in Node. */
  const seedResolver =
    (password: string) =>
    async (patientId: string, trx: Knex.Transaction): Promise<Buffer> => {
      const [row] = await trx(LEGACY_KEYS_TABLE)
        .select('wrapped')
        .where('patient_id', Buffer.from(patientId.replace(/-/g, ''), 'hex'))
      const key = mysqlAesEcbDecrypt(row.wrapped as Buffer, passwordKey(password))
      if (!key) throw new Error('the wrapped key does not open')
      return key
    }

  async function expectConverted(table: string, values: readonly SourceRowValues[]) {
    const opened = await openAll(own.db(), recovery, table, ['note_enc'])
    for (const v of values) expect(opened.get(v.id)?.['note_enc'], v.id).to.equal(v.note)
    const dump = await rawDump(legacy, table)
    for (const v of values)
      expect(dump.includes(Buffer.from(v.note, 'utf8')), v.id).to.equal(false)
    const [[left]] = (await legacy.query(
      'SELECT COUNT(*) AS n FROM ?? WHERE note_legacy IS NOT NULL',
      [table],
    )) as [{ n: number }[], unknown]
    expect(Number(left!.n), 'legacy ciphertext left').to.equal(0)
  }

  it("Node's aes-128-ecb with MySQL's key folding decrypts what the server's AES_ENCRYPT made, for keys of every length", async () => {
    for (const keyLength of [0, 1, 15, 16, 17, 32, 48, 64, 100]) {
      for (const textLength of [0, 1, 15, 16, 17, 100]) {
        const key = randomBytes(keyLength)
        const text = randomBytes(textLength)
        const [[row]] = (await legacy.query('SELECT AES_ENCRYPT(?, ?) AS c', [
          text,
          key,
        ])) as [{ c: Buffer }[], unknown]
        expect(
          mysqlAesEcbDecrypt(row!.c, key),
          `key ${keyLength}, text ${textLength}`,
        ).to.deep.equal(text)
      }
    }
    const [[row]] = (await legacy.query(
      'SELECT AES_ENCRYPT(?, ?) AS c, AES_DECRYPT(AES_ENCRYPT(?, ?), ?) AS d',
      ['x', 'right', 'x', 'right', 'wrong'],
    )) as [{ c: Buffer; d: Buffer | null }[], unknown]
    expect(mysqlAesEcbDecrypt(row!.c, Buffer.from('wrong'))).to.deep.equal(row!.d)
  })

  it('one key for the table: every value sealed under its patient key, nothing legacy or plain left, audited; the pool stays in aes-256-cbc', async () => {
    const { table, ids, values } = await setUp(3, 2, { tableKey: TABLE_KEY })
    const result = await vault.convertLegacyColumn(authority(), medications(table), {
      field: 'note',
      from: 'note_legacy',
      key: TABLE_KEY,
    })
    expect(result).to.deep.equal({
      table,
      field: 'note',
      column: 'note_legacy',
      dryRun: false,
      patients: 3,
      rows: 6,
      cleared: 0,
      finished: true,
      remaining: { patients: 0, rows: 0 },
    })
    await expectConverted(table, values)
    const audit = await auditReport(own.db(), {
      action: 'convert.legacy',
      patientId: ids[0]!,
    })
    // The detail ends with the chart state the conversion moved (chart-tags.ts).
    expect(audit.map((r) => r.outcome)).to.deep.equal(['success'])
    expect(audit[0]!.detail).to.match(
      new RegExp(`^table=${table} field=note rows=2 cleared=0 chart 2:[0-9a-f]{32}$`),
    )
    // Every connection of the pool still seals in aes-256-cbc.
    const modes = await Promise.all(
      Array.from({ length: 6 }, () =>
        own.db().transaction(async (trx) => {
          const [[m]] = (await trx.raw(
            'SELECT @@session.block_encryption_mode AS m',
          )) as [{ m: string }[]]
          return m!.m
        }),
      ),
    )
    expect([...new Set(modes)]).to.deep.equal(['aes-256-cbc'])
    await expectAuditChainVerifies(own.db())
  })

  it("a per-patient key wrapped with SHA-256 of a password (the seed's scheme), resolved in the patient's transaction", async () => {
    const password = `legacy-${randomBytes(6).toString('hex')}`
    const { table, values } = await setUp(3, 2, { password })
    const seen: string[] = []
    const resolver = seedResolver(password)
    const result = await vault.convertLegacyColumn(authority(), medications(table), {
      field: 'note',
      from: 'note_legacy',
      key: async (patientId, trx) => {
        seen.push(patientId)
        return resolver(patientId, trx)
      },
    })
    expect(result).to.deep.include({ patients: 3, rows: 6, finished: true })
    expect(seen).to.have.members([...new Set(values.map((v) => v.patientId))])
    await expectConverted(table, values)
  })

  it('a wrong key is a LegacyKeyError naming the row; that patient is left unchanged (and a dry run finds it first)', async () => {
    const password = `legacy-${randomBytes(6).toString('hex')}`
    const { table, ids, values } = await setUp(3, 2, { password })
    const sorted = [...ids].sort()
    const right = seedResolver(password)
    // The second patient's wrapped key is swapped for another's: it opens, but to the wrong key.
    const key = async (patientId: string, trx: Knex.Transaction) =>
      right(patientId === sorted[1] ? sorted[2]! : patientId, trx)
    const dumpBefore = await rawDump(legacy, table)
    const dry = await expect(
      vault.convertLegacyColumn(authority(), medications(table), {
        field: 'note',
        from: 'note_legacy',
        key,
        dryRun: true,
      }),
    ).to.be.rejectedWith(LegacyKeyError)
    expect(dry.patientId).to.equal(sorted[1])
    expect((await rawDump(legacy, table)).equals(dumpBefore)).to.equal(true)

    const err = await expect(
      vault.convertLegacyColumn(authority(), medications(table), {
        field: 'note',
        from: 'note_legacy',
        key,
      }),
    ).to.be.rejectedWith(LegacyKeyError)
    const rowsOfSecond = values.filter((v) => v.patientId === sorted[1]).map((v) => v.id)
    expect(rowsOfSecond).to.include(err.rowId)
    expect(err.code).to.equal('INTEGRITY')
    expect(err.message).to.include(err.rowId).and.include(`patient ${sorted[1]}`)
    const [rows] = (await legacy.query(
      'SELECT HEX(patient_id) AS p, note_legacy IS NULL AS converted, note_enc IS NOT NULL AS sealed FROM ??',
      [table],
    )) as [{ p: string; converted: number; sealed: number }[], unknown]
    const state = (id: string) =>
      rows
        .filter((r) => r.p.toLowerCase() === id.replace(/-/g, ''))
        .map((r) => [Number(r.converted), Number(r.sealed)])
    expect(state(sorted[0]!)).to.deep.equal([
      [1, 1],
      [1, 1],
    ])
    expect(state(sorted[1]!)).to.deep.equal([
      [0, 0],
      [0, 0],
    ])
    const failures = await auditReport(own.db(), {
      action: 'convert.legacy',
      patientId: sorted[1]!,
    })
    expect(failures.map((r) => r.outcome)).to.deep.equal(['failure'])
  })

  it('dry run counts and checks every value and writes nothing; bad input is a typed error with nothing written', async () => {
    const { table } = await setUp(2, 3, { tableKey: TABLE_KEY })
    const dumpBefore = await rawDump(legacy, table)
    const dry = await vault.convertLegacyColumn(authority(), medications(table), {
      field: 'note',
      from: 'note_legacy',
      key: TABLE_KEY,
      dryRun: true,
    })
    expect(dry).to.deep.include({
      dryRun: true,
      patients: 2,
      rows: 6,
      remaining: { patients: 2, rows: 6 },
    })
    const refused = async (
      options: Record<string, unknown>,
      field: string,
      message: RegExp,
    ) => {
      const err = await expect(
        vault.convertLegacyColumn(authority(), medications(table), {
          field: 'note',
          from: 'note_legacy',
          key: TABLE_KEY,
          ...options,
        } as never),
      ).to.be.rejectedWith(ValidationError)
      expect(err.field).to.equal(field)
      expect(err.message).to.match(message)
    }
    await refused({ field: 'dose' }, 'field', /encrypted field/)
    await refused({ from: 'note_enc' }, 'from', /a column of the declaration/)
    await refused({ from: 'drug_plain' }, 'from', /convertingFrom column/)
    await refused({ from: 'no_such' }, 'from', /has no column no_such/)
    await refused({ from: 'Bad Name' }, 'from', /lower-case column name/)
    await refused({ key: 'a string' }, 'key', /Buffer or a function/)
    await expect(
      vault.convertLegacyColumn(authority(), medications(table), {
        field: 'note',
        from: 'note_legacy',
        key: Buffer.from('not the key'),
      }),
    ).to.be.rejectedWith(LegacyKeyError)
    expect((await rawDump(legacy, table)).equals(dumpBefore)).to.equal(true)
  })
})
