import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { aes256CbcDecrypt } from '../../src/crypto/aes-cbc.js'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import {
  envelopeAad,
  envelopeKeyVersion,
  openEnvelope,
  sealEnvelope,
} from '../../src/crypto/envelope.js'
import { createDb } from '../../src/db/index.js'
import { rowIdFromString } from '../../src/db/row-id.js'
import { ConfigurationError } from '../../src/errors/index.js'
import type { Session } from '../../src/services/session.js'
import { createVault, type Vault } from '../../src/services/vault.js'
import { openSql, resealSql, sealSql, sqlFieldKeys } from '../../src/sql/envelope-sql.js'
import { isModeRefusalError } from '../../src/sql/mode-guard.js'
import { executeWrite, selectRows } from '../../src/sql/prepared.js'
import { engineUnderTest, rawKnex } from '../doctor/doctor-support.js'
import { envelopeTablesIn } from '../support/envelope-tables.js'
import { useOwnDatabase } from '../support/own-database.js'
import { findSecrets, secretsOf } from '../support/secrets.js'
import { observerConnection, testDbConfig } from '../support/test-env.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  RUN_RECOVERY,
  TEST_AUDIT_KEY,
  TEST_SEARCH_KEY,
} from '../support/vault-fixture.js'
import { containsKey, errorSurface } from './leak-probe.js'

const RECORD = {
  kind: 'diagnosis',
  occurredOn: '2026-01-05',
  title: 'Type 2 diabetes mellitus',
  code: 'E11.9',
} as const

/** Modes other than aes-256-cbc; those a server does not know are left out where SET refuses them. */
const OTHER_MODES = [
  'aes-128-ecb',
  'aes-256-ecb',
  'aes-128-cbc',
  'aes-192-cbc',
  'aes-256-cfb128',
  'aes-256-ofb',
  'aes-256-ctr',
]

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e,
  )
}

/** The typed refusal, naming the mode, with none of `secrets` and no value anywhere on it. */
function expectRefusal(
  err: unknown,
  mode: string,
  forbidden: readonly Buffer[] = [],
): void {
  expect(err).to.be.instanceOf(ConfigurationError)
  expect(isModeRefusalError(err), String(err)).to.equal(true)
  expect((err as ConfigurationError).code).to.equal('CONFIGURATION')
  expect((err as Error).message).to.include(`block_encryption_mode is ${mode}`)
  const surface = errorSurface(err)
  for (const secret of forbidden) expect(containsKey(surface, secret)).to.equal(false)
  for (const value of [DEMO_DEMOGRAPHICS.fullName, RECORD.title])
    expect(surface).not.to.include(value)
}

async function sessionMode(db: Knex | Knex.Transaction): Promise<string> {
  const [rows] = (await db.raw('SELECT @@session.block_encryption_mode AS mode')) as [
    { mode: string }[],
  ]
  return rows[0]!.mode
}

/**
 * Opens every envelope of the patient in Node (crypto/envelope.ts: AES-256-CBC
 * under the field subkeys recomputed from the user's password): a value sealed
 * under any other mode fails there. Returns the plaintexts.
 */
async function openAllInNode(
  db: Knex,
  user: { username: string; password: string },
  patientId: string,
): Promise<Buffer[]> {
  const secrets = await secretsOf(db, user.username, user.password)
  const subkey = (version: number, name: string) => {
    const found = secrets.find(
      (s) => s.name === `patient ${patientId} v${version} ${name}`,
    )
    if (!found) throw new Error(`no ${name} for v${version}`)
    return found.bytes
  }
  const plaintexts: Buffer[] = []
  for (const spec of await envelopeTablesIn(db)) {
    const rows = (await db(spec.table).where(
      spec.patientColumn,
      rowIdFromString(patientId, 'patientId'),
    )) as Record<string, Buffer | null>[]
    for (const row of rows) {
      for (const column of spec.columns) {
        const envelope = row[column]
        if (!envelope) continue
        const version = envelopeKeyVersion(envelope)
        const keys = {
          enc: subkey(version, 'enc subkey'),
          mac: subkey(version, 'mac subkey'),
        }
        plaintexts.push(
          openEnvelope(envelope, keys, envelopeAad(spec.table, column, row.id!)),
        )
      }
    }
  }
  return plaintexts
}

function includesText(plaintexts: readonly Buffer[], text: string): boolean {
  return plaintexts.some((p) => p.includes(Buffer.from(text)))
}

/**
 * The mode check of mode-guard.ts: whatever knex instance the vault is given
 * and whatever its connections were switched to, no value is sealed, opened or
 * resealed under a block_encryption_mode other than aes-256-cbc.
 */
describe('block_encryption_mode: nothing is sealed under another mode, on any pool', () => {
  const own = useOwnDatabase()

  const vaultOn = (db: Knex): Vault =>
    createVault({
      db,
      recoveryPublicKey: RUN_RECOVERY.publicKey,
      auditKey: TEST_AUDIT_KEY,
      searchKey: TEST_SEARCH_KEY,
      kdfPolicy: TEST_KDF_POLICY,
    })

  it('each envelope expression refuses every other mode the server knows, on one connection', async () => {
    const db = own.db()
    const raw = { enc: randomBytes(32), mac: randomBytes(32) }
    const keys = sqlFieldKeys(raw, 1)
    const next = sqlFieldKeys({ enc: randomBytes(32), mac: randomBytes(32) }, 2)
    const id = randomBytes(16)
    const aad = envelopeAad('t', 'c', id)
    const envelope = sealEnvelope(Buffer.from(RECORD.title), raw, 1, aad)
    const from =
      '(SELECT CAST(? AS BINARY) AS env, CAST(? AS BINARY) AS id, CAST(? AS BINARY) AS iv) AS v'
    const expressions = {
      seal: () => sealSql(Buffer.from(RECORD.title), keys, aad),
      open: () => openSql('v.env', keys, aad.subarray(0, -16), 'v.id'),
      reseal: () => resealSql('v.env', keys, next, aad.subarray(0, -16), 'v.id', 'v.iv'),
    }
    const run = (
      trx: Knex.Transaction,
      build: () => { sql: string; bindings: readonly unknown[] },
    ) => {
      const { sql, bindings } = build()
      return selectRows<{ x: Buffer | null }>(
        trx,
        trx.raw(`SELECT ${sql} AS x FROM ${from}`, [
          ...bindings,
          envelope,
          id,
          randomBytes(16),
        ] as Knex.RawBinding[]),
        'mode probe',
      )
    }
    const tried: string[] = []
    await db.transaction(async (trx) => {
      try {
        for (const mode of OTHER_MODES) {
          const accepted = await trx
            .raw('SET SESSION block_encryption_mode = ?', [mode])
            .then(
              () => true,
              () => false,
            )
          if (!accepted) continue
          tried.push(mode)
          for (const [name, build] of Object.entries(expressions)) {
            const err = await rejection(run(trx, build))
            expect(
              isModeRefusalError(err),
              `${name} under ${mode}: ${String(err)}`,
            ).to.equal(true)
            expectRefusal(err, mode, [raw.enc, raw.mac, keys.inner, keys.outer, next.enc])
          }
        }
        // Control: the same statements under aes-256-cbc, on the same connection.
        await trx.raw("SET SESSION block_encryption_mode = 'aes-256-cbc'")
        const [sealed] = await run(trx, expressions.seal)
        expect(openEnvelope(sealed!.x!, raw, aad).toString()).to.equal(RECORD.title)
        const [opened] = await run(trx, expressions.open)
        expect(opened!.x!.subarray(1).toString()).to.equal(RECORD.title)
        const [resealed] = await run(trx, expressions.reseal)
        expect(resealed!.x).to.have.length(envelope.length)
      } finally {
        await trx.raw("SET SESSION block_encryption_mode = 'aes-256-cbc'")
      }
    })
    expect(tried).to.include.members(['aes-128-ecb', 'aes-256-ecb', 'aes-128-cbc'])
  })

  it('a raw knex({ client: "mysql2" }) given to createVault: the first seal is refused, typed, and nothing is written', async () => {
    const raw = rawKnex(own.name())
    try {
      const mode = await sessionMode(raw)
      expect(mode, "a plain knex connection runs in the server's default").not.to.equal(
        'aes-256-cbc',
      )
      const vault = vaultOn(raw)
      const user = await registerTestUser(vault, 'raw-knex')
      const session = await vault.login(user.username, user.password)
      const before = await own.db()('patients').count({ n: '*' })
      const err = await rejection(session.createPatient(demoDemographics()))
      const secrets = await secretsOf(own.db(), user.username, user.password)
      expectRefusal(err, mode)
      expect(
        findSecrets(Buffer.from(errorSurface(err), 'latin1'), secrets),
      ).to.deep.equal([])
      expect(await own.db()('patients').count({ n: '*' })).to.deep.equal(before)
      session.close()
    } finally {
      await raw.destroy()
    }
  })

  it('a trigger that switches the mode between the rows of one statement: that statement is refused, or runs in CBC', async () => {
    const raw = { enc: randomBytes(32), mac: randomBytes(32) }
    const next = { enc: randomBytes(32), mac: randomBytes(32) }
    const prefix = envelopeAad('mode_rows', 'env', Buffer.alloc(16)).subarray(0, -16)
    const title = Buffer.from(RECORD.title)
    const admin = await observerConnection()
    const db = createDb({ ...testDbConfig(), database: own.name(), poolMax: 1 })
    try {
      await admin.query(`USE \`${own.name()}\``)
      await admin.query(
        'CREATE TABLE mode_rows (id BINARY(16) PRIMARY KEY, iv BINARY(16) NOT NULL, ' +
          'env VARBINARY(255) NOT NULL, bare VARBINARY(255))',
      )
      for (let i = 0; i < 3; i++) {
        const id = randomBytes(16)
        const env = sealEnvelope(title, raw, 1, envelopeAad('mode_rows', 'env', id))
        await admin.query('INSERT INTO mode_rows (id, iv, env) VALUES (?, ?, ?)', [
          id,
          randomBytes(16),
          env,
        ])
      }
      await admin.query(
        'CREATE TRIGGER mode_rows_switch BEFORE UPDATE ON mode_rows FOR EACH ROW ' +
          "SET SESSION block_encryption_mode = 'aes-128-ecb'",
      )
      const cbc = "SET SESSION block_encryption_mode = 'aes-256-cbc'"

      // Without the check: AES_ENCRYPT alone, one value per row.
      await db.raw(cbc)
      await executeWrite(
        db,
        db.raw('UPDATE mode_rows SET bare = AES_ENCRYPT(?, ?, iv)', [title, raw.enc]),
      )
      const controls = (await own.db()('mode_rows').select('iv', 'bare')) as {
        iv: Buffer
        bare: Buffer
      }[]
      const cbcRows = controls.filter((r) => {
        try {
          return aes256CbcDecrypt(raw.enc, r.iv, r.bare).equals(title)
        } catch {
          return false
        }
      }).length
      if ((await engineUnderTest()) === 'mysql')
        expect(cbcRows, 'MySQL: rows 2..n in ECB').to.equal(1)

      await db.raw(cbc)
      const reseal = resealSql(
        't.env',
        sqlFieldKeys(raw, 1),
        sqlFieldKeys(next, 2),
        prefix,
        't.id',
        't.iv',
      )
      const outcome = await executeWrite(db, {
        sql: `UPDATE mode_rows AS t SET t.env = ${reseal.sql}`,
        bindings: reseal.bindings,
      }).then(
        () => 'resealed',
        (e: unknown) => e,
      )
      const rows = (await own.db()('mode_rows').select('id', 'env')) as {
        id: Buffer
        env: Buffer
      }[]
      if (outcome === 'resealed') {
        expect(cbcRows, 'a statement that ran in ECB was not refused').to.equal(3)
        for (const r of rows) {
          const aad = envelopeAad('mode_rows', 'env', r.id)
          expect(openEnvelope(r.env, next, aad)).to.deep.equal(title)
        }
      } else {
        expectRefusal(outcome, 'aes-128-ecb', [raw.enc, next.enc])
        // The statement is undone as a whole: every row still under the old keys.
        for (const r of rows) {
          const aad = envelopeAad('mode_rows', 'env', r.id)
          expect(openEnvelope(r.env, raw, aad)).to.deep.equal(title)
        }
      }
    } finally {
      await admin.query('DROP TABLE IF EXISTS mode_rows')
      await admin.end()
      await db.destroy()
    }
  })

  describe('on a pool of one connection (so the caller’s SET lands on the connection the vault uses next)', () => {
    let db: Knex
    let vault: Vault
    let user: { username: string; password: string }
    let session: Session
    let patientId: string

    beforeEach(async () => {
      db = createDb({ ...testDbConfig(), database: own.name(), poolMax: 1 })
      vault = vaultOn(db)
      user = await registerTestUser(vault, 'mode-switch')
      session = await vault.login(user.username, user.password)
      patientId = await session.createPatient(demoDemographics())
    })

    afterEach(async () => {
      session.close()
      await db.destroy()
    })

    it("switched to ECB by the caller's raw SET between two calls: the next seal and open are refused; back in CBC every stored value is AES-256-CBC", async () => {
      await db.raw("SET SESSION block_encryption_mode = 'aes-128-ecb'")
      expectRefusal(await rejection(session.addRecord(patientId, RECORD)), 'aes-128-ecb')
      // Opening under ECB would report tampering (IntegrityError): it is the mode instead.
      expectRefusal(await rejection(session.readPatient(patientId)), 'aes-128-ecb')
      const records = own
        .db()('clinical_records')
        .where('patient_id', rowIdFromString(patientId, 'patientId'))
      const [counted] = await records.clone().count({ n: '*' })
      expect(Number(counted!.n)).to.equal(0)

      await db.raw("SET SESSION block_encryption_mode = 'aes-256-cbc'")
      await session.addRecord(patientId, RECORD)
      expect((await session.readPatient(patientId)).fullName).to.equal(
        DEMO_DEMOGRAPHICS.fullName,
      )
      const plaintexts = await openAllInNode(own.db(), user, patientId)
      expect(includesText(plaintexts, DEMO_DEMOGRAPHICS.fullName)).to.equal(true)
      expect(includesText(plaintexts, RECORD.title)).to.equal(true)
    })

    it('a trigger that switches the session to ECB during a rotation: refused, or every value resealed is AES-256-CBC', async () => {
      for (let i = 0; i < 3; i++) await session.addRecord(patientId, RECORD)
      const admin = await observerConnection()
      await admin.query(`USE \`${own.name()}\``)
      await admin.query(
        'CREATE TRIGGER mode_switch BEFORE UPDATE ON clinical_records FOR EACH ROW ' +
          "SET SESSION block_encryption_mode = 'aes-128-ecb'",
      )
      let outcome: unknown
      try {
        outcome = await session.rotatePatientKey(patientId).then(
          () => 'rotated',
          (e: unknown) => e,
        )
      } finally {
        await admin.query('DROP TRIGGER mode_switch')
        await admin.end()
      }
      // MySQL 9.7 switches the mode for rows 2..n of the reseal UPDATE itself
      // (measured without the check: rows 2 and 3 ECB); MariaDB 11.8 only for
      // the statements after it. Either way the check refuses before any commit.
      if (outcome !== 'rotated') expectRefusal(outcome, 'aes-128-ecb')
      else {
        // Measured on both engines: the rotation's multi-table UPDATE ran in CBC
        // (checked below), and the trigger left the pooled connection in ECB.
        expect(await sessionMode(db)).to.equal('aes-128-ecb')
        expectRefusal(
          await rejection(session.addRecord(patientId, RECORD)),
          'aes-128-ecb',
        )
      }
      await db.raw("SET SESSION block_encryption_mode = 'aes-256-cbc'")
      const plaintexts = await openAllInNode(own.db(), user, patientId)
      expect(
        plaintexts.filter((p) => p.includes(Buffer.from(RECORD.title))),
      ).to.have.length(3)
      expect((await session.listRecords(patientId)).map((r) => r.title)).to.deep.equal([
        RECORD.title,
        RECORD.title,
        RECORD.title,
      ])
    })
  })
})
