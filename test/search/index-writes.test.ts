import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { rowIdFromString } from '../../src/db/row-id.js'
import { ValidationError } from '../../src/errors/index.js'
import { PATIENTS } from '../../src/schema/chart-tables.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { deriveTableIndexKeys, indexColumnValues } from '../../src/schema/index-values.js'
import { normalise } from '../../src/schema/normalisers.js'
import { searchIndex } from '../../src/schema/search-indexes.js'
import { describeTableDrift } from '../../src/schema/table-drift.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, TEST_SEARCH_KEY, testVault } from '../support/vault-fixture.js'

/**
 * The index columns every write sets, in the same statement as the envelopes,
 * compared with the values computed independently from the same key: on
 * create, on update of one field of a two-field index (the other read from the
 * row), to NULL, and in an application's table; and the unique national id.
 */

const referrals = defineTable({
  name: 'idx_referrals',
  encrypted: {
    code: encrypted.text({ maxBytes: 40 }),
    clinic: encrypted.text({ maxBytes: 80, nullable: true }),
  },
  indexes: {
    byCode: searchIndex.exact({ fields: { code: [normalise.lettersAndDigits] } }),
  },
})

describe('search index columns written with the row', function () {
  this.timeout(60_000)
  const own = useOwnDatabase()
  let db: Knex
  let vault: Vault
  let alice: Session
  const patientKeys = deriveTableIndexKeys(TEST_SEARCH_KEY, PATIENTS)

  before(async () => {
    db = own.db()
    await createEncryptedTable(db, referrals)
    ;({ vault } = testVault({ db, tables: [referrals] }))
    const a = await registerTestUser(vault, 'idx-alice')
    alice = await vault.login(a.username, a.password)
  })
  after(() => alice?.close())

  const expected = (values: Record<string, unknown>) =>
    indexColumnValues(PATIENTS.indexes, patientKeys, values)
  const stored = async (patientId: string) => {
    const [row] = await db('patients')
      .select(PATIENTS.indexes.map((i) => i.column))
      .where('id', rowIdFromString(patientId, 'p'))
    return row as Record<string, unknown>
  }

  it('on create and on update, each index column is the value computed from the key', async () => {
    const demographics = {
      fullName: 'Ana María López',
      dateOfBirth: '1984-02-29',
      nationalId: `AB-${Date.now()}-${Math.random().toString().slice(2, 8)}`,
    }
    const patient = await alice.createPatient(demographics)
    const first = await stored(patient)
    expect(first).to.deep.equal(expected(demographics))
    expect(first['bidx_by_national_id']).to.be.instanceOf(Buffer)
    expect(typeof first['bidx_by_birth_and_initial']).to.equal('number')

    // One field of two-field indexes: the date of birth comes from the row.
    await alice.updatePatient(patient, { fullName: 'Ana María Pérez' })
    const renamed = await stored(patient)
    expect(renamed).to.deep.equal(
      expected({ ...demographics, fullName: 'Ana María Pérez' }),
    )
    expect(renamed['bidx_by_name']).to.not.deep.equal(first['bidx_by_name'])
    expect(renamed['bidx_by_national_id']).to.deep.equal(first['bidx_by_national_id'])

    await alice.updatePatient(patient, { nationalId: null })
    expect((await stored(patient))['bidx_by_national_id']).to.equal(null)
  })

  it('a national id already registered is a ValidationError naming the field, and nothing is written', async () => {
    const nationalId = `NI${Date.now()}${Math.random().toString().slice(2, 8)}`
    await alice.createPatient({
      fullName: 'First One',
      dateOfBirth: '1990-01-01',
      nationalId,
    })
    const [before] = await db('patients').count({ n: '*' })
    const err = await alice
      .createPatient({
        fullName: 'Second One',
        dateOfBirth: '1991-01-01',
        // Normalised alike: the same id typed with spaces and lower case.
        nationalId: ` ${nationalId.toLowerCase().replace(/(.{4})/, '$1 ')}`,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(err).to.be.instanceOf(ValidationError)
    expect((err as ValidationError).field).to.equal('nationalId')
    expect((err as Error).message).to.not.include(nationalId)
    const [after] = await db('patients').count({ n: '*' })
    expect(after).to.deep.equal(before)
  })

  it('a refusal by the unique index is a search for the record and the limits: audited, counted, then rate-limited', async () => {
    const { vault: limited } = testVault({
      db,
      tables: [referrals],
      searchLimits: { perUser: 2 },
    })
    const u = await registerTestUser(limited, 'idx-prober')
    const prober = await limited.login(u.username, u.password)
    try {
      const taken = `NI${Date.now()}${Math.random().toString().slice(2, 8)}`
      await alice.createPatient({
        fullName: 'Taken',
        dateOfBirth: '1990-01-01',
        nationalId: taken,
      })
      const own = await prober.createPatient({
        fullName: 'Own',
        dateOfBirth: '1990-01-02',
      })
      const probe = () =>
        prober
          .createPatient({
            fullName: 'Probe',
            dateOfBirth: '1990-01-03',
            nationalId: taken,
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          )
      expect(await probe()).to.be.instanceOf(ValidationError)
      // An update is a probe too.
      const update = await prober.updatePatient(own, { nationalId: taken }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((update as ValidationError).field).to.equal('nationalId')
      const third = await probe()
      expect((third as { code?: string }).code).to.equal('RATE_LIMITED')
      const rows = (await db('audit_log')
        .select('action', 'outcome', 'detail')
        .where({ actor_user_id: rowIdFromString(prober.userId, 'u'), action: 'search' })
        .orderBy('seq')) as { action: string; outcome: string; detail: string }[]
      expect(rows.map((r) => [r.outcome, r.detail])).to.deep.equal([
        ['failure', 'patients.byNationalId: duplicate'],
        ['failure', 'patients.byNationalId: duplicate'],
        ['denied', 'rate_limited'],
      ])
    } finally {
      prober.close()
    }
  })

  it('an application table: its index column and KEY are made with it, written on insert and update, and the table shows no drift', async () => {
    expect(await describeTableDrift(db, referrals)).to.deep.equal([])
    const keys = await db.raw(
      "SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'idx_referrals' AND COLUMN_NAME = 'bidx_by_code'",
    )
    expect((keys[0] as { name: string }[]).map((k) => k.name)).to.deep.equal([
      'idx_referrals_bidx_by_code',
    ])
    const patient = await alice.createPatient({
      fullName: 'Ref Patient',
      dateOfBirth: '1970-01-01',
    })
    const table = alice.table(referrals)
    const id = await table.insert(patient, { code: 'R-1' })
    const refKeys = deriveTableIndexKeys(TEST_SEARCH_KEY, referrals)
    const value = async () =>
      (await db('idx_referrals').where('id', rowIdFromString(id, 'id')))[0].bidx_by_code
    expect(await value()).to.deep.equal(
      indexColumnValues(referrals.indexes, refKeys, { code: 'R1' })['bidx_by_code'],
    )
    // A change of another field leaves it; a change of the field moves it.
    await table.update(patient, id, { clinic: 'North' })
    expect(await value()).to.deep.equal(
      indexColumnValues(referrals.indexes, refKeys, { code: 'R1' })['bidx_by_code'],
    )
    await table.update(patient, id, { code: 'R-2' })
    expect(await value()).to.deep.equal(
      indexColumnValues(referrals.indexes, refKeys, { code: 'R2' })['bidx_by_code'],
    )
  })
})
