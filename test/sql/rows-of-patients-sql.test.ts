import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import type { Knex } from 'knex'
import { envelopeAad, sealEnvelope } from '../../src/crypto/envelope.js'
import { ValidationError } from '../../src/errors/index.js'
import {
  decodeOpened,
  keysRowsSql,
  openSqlWithKeyColumns,
  sqlFieldKeys,
} from '../../src/sql/envelope-sql.js'
import { MODE_REFUSAL_SQL, modeChecked } from '../../src/sql/mode-guard.js'
import { selectRows } from '../../src/sql/prepared.js'
import { rowsOfPatientsSql } from '../../src/sql/rows-of-patients-sql.js'
import { testDb } from '../support/test-env.js'

/**
 * Envelopes of several patients opened by one expression per column, each row
 * with the keys of the keys row it is joined to (a search's stage two,
 * declared-rows.repository's selectRowsOfPatients).
 */

const fieldKeys = () => ({ enc: randomBytes(32), mac: randomBytes(32) })
const KEY_COLUMNS = { outer: 'k.o', inner: 'k.i', enc: 'k.e' }

describe('stage two SQL: keys rows, openSqlWithKeyColumns, rowsOfPatientsSql (compiled, no database)', () => {
  it('binds every key, each cast to its fixed width; the open binds only the mode check and the AAD prefix', () => {
    const a = { patientId: randomBytes(16), keys: sqlFieldKeys(fieldKeys(), 1) }
    const b = { patientId: randomBytes(16), keys: sqlFieldKeys(fieldKeys(), 2) }
    const rows = keysRowsSql([a, b])
    expect(rows.sql.split('?').length - 1).to.equal(rows.bindings.length)
    expect(rows.bindings).to.deep.equal([
      a.patientId,
      a.keys.outer,
      a.keys.inner,
      a.keys.enc,
      b.patientId,
      b.keys.outer,
      b.keys.inner,
      b.keys.enc,
    ])
    // Every branch casts, or the union's column type widens to a BLOB.
    expect(rows.sql.match(/CAST\(\? AS BINARY\((16|64|32)\)\)/g)).to.have.length(8)

    const prefix = envelopeAad('patients', 'full_name_enc', randomBytes(16)).subarray(
      0,
      -16,
    )
    const open = openSqlWithKeyColumns('t.full_name_enc', KEY_COLUMNS, prefix, 't.id')
    expect(open.sql).to.include('`k`.`o`').and.include('`k`.`i`').and.include('`k`.`e`')
    expect(open.sql).to.include(MODE_REFUSAL_SQL)
    expect(open.sql.split('?').length - 1).to.equal(open.bindings.length)
    expect(open.bindings).to.deep.equal([...modeChecked('x', 'y').bindings, prefix])
  })

  it('rowsOfPatientsSql: plain columns, one open per envelope column, the keys rows joined by patient, the ids listed', () => {
    const keyed = [0, 1].map(() => ({
      patientId: randomBytes(16),
      keys: sqlFieldKeys(fieldKeys(), 1),
    }))
    const ids = [randomBytes(16), randomBytes(16), randomBytes(16)]
    const prefixes = { a_enc: Buffer.from('pa'), b_enc: Buffer.from('pb') }
    const { sql, bindings } = rowsOfPatientsSql(
      {
        table: 'meds',
        patientColumn: 'patient_id',
        columns: ['a_enc', 'b_enc'],
        aadPrefixes: prefixes,
        plainColumns: ['id', 'patient_id'],
      },
      keyed,
      ids,
    )
    expect(sql).to.match(/^SELECT `t`\.`id`, `t`\.`patient_id`, \(CASE /)
    expect(sql).to.include(' AS `a_enc`, ').and.include(' AS `b_enc` FROM (SELECT CAST(')
    expect(sql).to.match(
      /\) AS `k` JOIN `meds` AS `t` ON `t`\.`patient_id` = `k`\.`pid` WHERE `t`\.`id` IN \(\?, \?, \?\)$/,
    )
    expect(sql.split('?').length - 1).to.equal(bindings.length)
    const mode = modeChecked('x', 'y').bindings
    expect(bindings).to.deep.equal([
      ...mode,
      prefixes.a_enc,
      ...mode,
      prefixes.b_enc,
      ...keysRowsSql(keyed).bindings,
      ...ids,
    ])
    expect(() =>
      rowsOfPatientsSql(
        {
          table: 'meds',
          patientColumn: 'patient_id',
          columns: [],
          aadPrefixes: {},
          plainColumns: ['id'],
        },
        keyed,
        [],
      ),
    ).to.throw(ValidationError)
  })

  it('refuses no patients, a patient id of another length, and a key column that is not an identifier', () => {
    expect(() => keysRowsSql([])).to.throw(ValidationError)
    expect(() =>
      keysRowsSql([{ patientId: randomBytes(15), keys: sqlFieldKeys(fieldKeys(), 1) }]),
    ).to.throw(ValidationError, /16 bytes/)
    expect(() =>
      openSqlWithKeyColumns(
        't.c',
        { ...KEY_COLUMNS, enc: 'k.e; DROP TABLE x' },
        Buffer.alloc(1),
        't.id',
      ),
    ).to.throw(ValidationError)
  })
})

describe('keys rows on the server: each row opens with its own patient keys, in memory', () => {
  const table = `keys_rows_probe_${randomBytes(4).toString('hex')}`
  let db: Knex
  const patients = [0, 1, 2].map(() => ({ id: randomBytes(16), raw: fieldKeys() }))
  /** Per patient: two rows, each an envelope of its own text under that patient's keys. */
  const rows = patients.flatMap((p, i) =>
    [0, 1].map((j) => ({
      id: randomBytes(16),
      pid: p.id,
      text: `patient ${i} row ${j}`,
    })),
  )
  const keysOf = (i: number) => sqlFieldKeys(patients[i]!.raw, 1)
  const prefix = envelopeAad(table, 'env', Buffer.alloc(16)).subarray(0, -16)

  before(async () => {
    db = testDb()
    await db.schema.createTable(table, (t) => {
      t.binary('id', 16).primary()
      t.binary('pid', 16).notNullable().index()
      t.specificType('env', 'VARBINARY(200)')
    })
    await db(table).insert(
      rows.map((r) => {
        const p = patients.find((x) => x.id.equals(r.pid))!
        return {
          id: r.id,
          pid: r.pid,
          env: sealEnvelope(
            Buffer.from(r.text),
            p.raw,
            1,
            envelopeAad(table, 'env', r.id),
          ),
        }
      }),
    )
  })

  after(async () => {
    await db.schema.dropTableIfExists(table)
  })

  /** The statement of a search's stage two, on this table, and the session's disk temp tables. */
  async function open(
    keyed: { patientId: Buffer; keys: ReturnType<typeof keysOf> }[],
    ids: Buffer[],
  ): Promise<{ opened: Map<string, string | 'tampered'>; diskTables: number }> {
    const statement = rowsOfPatientsSql(
      {
        table,
        patientColumn: 'pid',
        columns: ['env'],
        aadPrefixes: { env: prefix },
        plainColumns: ['id'],
      },
      keyed,
      ids,
    )
    return db.transaction(async (trx) => {
      const status = async () =>
        Number(
          (
            (await trx.raw("SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'")) as [
              { Value: string }[],
            ]
          )[0][0]!.Value,
        )
      const before = await status()
      const found = await selectRows<{ id: Buffer; env: Buffer | null }>(trx, statement)
      const opened = new Map<string, string | 'tampered'>()
      for (const row of found) {
        const value = decodeOpened(row.env)
        opened.set(
          row.id.toString('hex'),
          value === 'tampered' ? value : String(value?.toString('utf8')),
        )
      }
      return { opened, diskTables: (await status()) - before }
    })
  }

  it('opens every row of several patients in one statement, each under its own keys, with no temporary table on disk', async () => {
    const { opened, diskTables } = await open(
      patients.map((p, i) => ({ patientId: p.id, keys: keysOf(i) })),
      rows.map((r) => r.id),
    )
    expect(Object.fromEntries(opened)).to.deep.equal(
      Object.fromEntries(rows.map((r) => [r.id.toString('hex'), r.text])),
    )
    // Keys must not reach a temporary table on disk (MariaDB puts one with a
    // BLOB column in Aria): the fixed-width casts keep it in memory.
    expect(diskTables).to.equal(0)
  })

  it("a row is joined only to its own patient's keys row: a listed id of a patient with no keys row is not read", async () => {
    const { opened } = await open(
      [{ patientId: patients[0]!.id, keys: keysOf(0) }],
      rows.map((r) => r.id),
    )
    expect([...opened.values()].sort()).to.deep.equal([
      'patient 0 row 0',
      'patient 0 row 1',
    ])
  })

  it("another patient's keys in a patient's keys row open nothing: the tag fails", async () => {
    const { opened } = await open(
      [{ patientId: patients[0]!.id, keys: keysOf(1) }],
      rows.filter((r) => r.pid.equals(patients[0]!.id)).map((r) => r.id),
    )
    expect([...opened.values()]).to.deep.equal(['tampered', 'tampered'])
  })
})
