import { randomBytes } from 'node:crypto'
import knex, { type Knex } from 'knex'
import { expect } from '../support/chai.js'
import { deriveFieldKeys, envelopeAad, sealEnvelope } from '../../src/crypto/index.js'
import { createDb, migrateLatest, newRowId } from '../../src/db/index.js'
import {
  ConfigurationError,
  DatabaseError,
  IntegrityError,
  ValidationError,
} from '../../src/errors/index.js'
import { listCatalog } from '../../src/schema/catalog.js'
import type {
  EncryptedColumn,
  EncryptedType,
  PlainColumn,
  PlainType,
} from '../../src/schema/column.js'
import { defineTable, type TableDeclaration } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { plain } from '../../src/schema/plain-columns.js'
import {
  addEncryptedColumns,
  createEncryptedTable,
  dropEncryptedTable,
} from '../../src/schema/table-ddl.js'
import { describeTableDrift } from '../../src/schema/table-drift.js'
import { executeWrite } from '../../src/sql/prepared.js'
import { withFreshDatabase } from '../support/fresh-database.js'
import { testDbConfig } from '../support/test-env.js'
import { engineUnderTest } from '../doctor/doctor-support.js'

/**
 * An application's own knex migration made with createEncryptedTable, beside
 * emr-vault's: the table it makes agrees with its declaration, the catalog
 * records it, the CHECK constraints refuse what is not an envelope, and changes
 * made behind the declaration's back are reported. Every test migrates a
 * database of its own.
 */

// Columns written by hand rather than by the factories (which refuse what these
// carry): the DDL checks what it reads, kind, type, nullable, column, maxBytes,
// maxLength and values, itself.
function enc(type: EncryptedType, maxBytes: number, nullable = false): EncryptedColumn {
  return {
    kind: 'encrypted',
    type,
    nullable,
    column: undefined,
    maxBytes,
    encode: (v) => Buffer.from(String(v)),
    decode: (b) => b,
  }
}
function plainColumn(
  type: PlainType,
  nullable = false,
  extra: { maxLength?: number; values?: readonly string[] } = {},
): PlainColumn {
  return {
    kind: 'plain',
    type,
    nullable,
    column: undefined,
    ...extra,
    toDriver: (v) => v as string,
    fromDriver: (v) => v,
  }
}

const MEDICATIONS = {
  name: 'medications',
  encrypted: {
    drug: encrypted.text({ maxBytes: 200 }),
    // 32 bytes at most: sign, 20 digits, point, 10 digits.
    dose: encrypted.decimal({ precision: 30, scale: 10, nullable: true }),
    notes: encrypted.text({ maxBytes: 10_000, nullable: true }),
    scan: encrypted.bytes({ maxBytes: 1_000_000, nullable: true }),
  },
  plain: {
    status: plain.enum(['active', 'stopped']),
    code: plain.text({ maxLength: 20, nullable: true }),
    startedAt: plain.dateTime({ nullable: true }),
    prescriberId: plain.rowId({ nullable: true }),
    refills: plain.integer(),
    controlled: plain.boolean(),
  },
}
const medications = defineTable(MEDICATIONS)

/** A plain knex instance as an application makes it for its own migrations. */
function appKnex(database: string, migrations: Knex.MigratorConfig): Knex {
  const c = testDbConfig()
  return knex({
    client: 'mysql2',
    connection: {
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      database,
    },
    pool: { min: 0, max: 2 },
    migrations,
  })
}

/** The application's migrations, through its own source, in knex's default table. */
function appMigrations(list: [string, Knex.Migration][]): Knex.MigratorConfig {
  return {
    migrationSource: {
      getMigrations: () => Promise.resolve(list.map(([name]) => name)),
      getMigrationName: (m: unknown) => String(m),
      getMigration: (m: unknown) => Promise.resolve(list.find(([n]) => n === m)![1]),
    },
  }
}

const CREATE_MEDICATIONS: [string, Knex.Migration] = [
  '20261203120000_medications',
  {
    up: (k: Knex) =>
      createEncryptedTable(k, medications, (t) =>
        t.index(['status'], 'medications_status'),
      ),
    down: (k: Knex) => dropEncryptedTable(k, medications),
  },
]

/** A fresh database with emr-vault's migrations, an emr-vault pool and an app knex. */
async function withMigrated<T>(
  body: (db: Knex, database: string) => Promise<T>,
): Promise<T> {
  return withFreshDatabase('emr_vault_ddl', async (database) => {
    const db = createDb({ ...testDbConfig(), database, poolMax: 2 })
    try {
      await migrateLatest(db)
      return await body(db, database)
    } finally {
      await db.destroy()
    }
  })
}

async function columnTypes(db: Knex, table: string): Promise<Record<string, string>> {
  const [rows] = (await db.raw(
    "SELECT COLUMN_NAME AS c, CONCAT(COLUMN_TYPE, IF(IS_NULLABLE = 'YES', ' null', '')) AS t " +
      'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ' +
      'ORDER BY ORDINAL_POSITION',
    [table],
  )) as [{ c: string; t: string }[]]
  return Object.fromEntries(
    rows.map((r) => [r.c, r.t.replace(/^bigint\(20\)/, 'bigint')]),
  )
}

async function indexColumns(db: Knex, table: string, index: string): Promise<string[]> {
  const [rows] = (await db.raw(
    'SELECT COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ' +
      'AND TABLE_NAME = ? AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX',
    [table, index],
  )) as [{ c: string }[]]
  return rows.map((r) => r.c)
}

async function catalogEntry(db: Knex, table: string) {
  return (await listCatalog(db)).find((e) => e.table === table)
}

/** A patient row to hang rows on (the foreign key), written as the chart writes it. */
async function somePatient(db: Knex): Promise<Buffer> {
  const user = newRowId()
  await db('users').insert({
    id: user,
    username: `u${randomBytes(4).toString('hex')}`,
    display_name: 'U',
    roles: 'clinician',
    password_verifier: 'x'.repeat(60),
    kdf_salt: randomBytes(16),
    kdf_log_n: 14,
    kdf_r: 8,
    kdf_p: 1,
    public_key: randomBytes(32),
    wrapped_private_key: randomBytes(64),
  })
  const patient = newRowId()
  const envelope = Buffer.concat([Buffer.of(1), randomBytes(68)])
  await db('patients').insert({
    id: patient,
    current_key_version: 1,
    created_by: user,
    full_name_enc: envelope,
    date_of_birth_enc: envelope,
  })
  return patient
}

/** A medications row with `drug_enc` as given; the other values are well-formed. */
function insertMedication(db: Knex, patient: Buffer, drug: Buffer, status = 'active') {
  return executeWrite(
    db,
    db('medications').insert({
      id: newRowId(),
      patient_id: patient,
      drug_enc: drug,
      status,
      refills: 0,
      controlled: false,
    }),
    'insert a medication',
  )
}

describe('declared tables: the migration helpers and the catalog', function () {
  // Each test migrates a database from nothing.
  this.timeout(60_000)

  it("an application's migration beside emr-vault's makes the declared table, records it, and rolls back", async () => {
    await withMigrated(async (db, database) => {
      const app = appKnex(database, appMigrations([CREATE_MEDICATIONS]))
      try {
        expect(await app.migrate.latest()).to.deep.equal([1, [CREATE_MEDICATIONS[0]]])
        expect(await describeTableDrift(db, medications)).to.deep.equal([])
        expect(await columnTypes(db, 'medications')).to.deep.equal({
          id: 'binary(16)',
          patient_id: 'binary(16)',
          created_at: 'datetime(3)',
          updated_at: 'datetime(3)',
          // envelopeLength: 53 + 16·(⌊n/16⌋ + 1)
          drug_enc: 'varbinary(261)',
          dose_enc: 'varbinary(101) null',
          notes_enc: 'blob null',
          scan_enc: 'mediumblob null',
          status: 'varchar(7)',
          code: 'varchar(20) null',
          started_at: 'datetime(3) null',
          prescriber_id: 'binary(16) null',
          refills: 'bigint',
          controlled: 'tinyint(1)',
        })
        expect(
          await indexColumns(db, 'medications', 'medications_by_patient'),
        ).to.deep.equal(['patient_id', 'created_at', 'id'])
        expect(await indexColumns(db, 'medications', 'medications_status')).to.deep.equal(
          ['status'],
        )
        expect(await catalogEntry(db, 'medications')).to.deep.equal({
          table: 'medications',
          patientColumn: 'patient_id',
          columns: ['drug_enc', 'dose_enc', 'notes_enc', 'scan_enc'],
        })
        // The chart's own entries, as the migration seeds them.
        expect(
          (await listCatalog(db)).map((e) => [e.table, e.columns.length]),
        ).to.deep.equal([
          ['clinical_records', 4],
          ['medications', 4],
          ['patients', 7],
        ])

        // Down drops the table and its entry; up makes both again.
        expect(await app.migrate.rollback()).to.deep.equal([1, [CREATE_MEDICATIONS[0]]])
        expect(await db.schema.hasTable('medications')).to.equal(false)
        expect(await catalogEntry(db, 'medications')).to.equal(undefined)
        expect(await describeTableDrift(db, medications)).to.deep.equal([
          {
            kind: 'missing-table',
            table: 'medications',
            detail: 'the table does not exist',
          },
          {
            kind: 'missing-catalog-entry',
            table: 'medications',
            detail:
              'not in emr_vault_declared_tables: a revoke run elsewhere would not reach it',
          },
        ])
        await app.migrate.latest()
        expect(await describeTableDrift(db, medications)).to.deep.equal([])
      } finally {
        await app.destroy()
      }
    })
  })

  it('the CHECK constraints refuse a value that is not an envelope, and a real envelope passes', async () => {
    await withMigrated(async (db) => {
      await createEncryptedTable(db, medications)
      const patient = await somePatient(db)
      const keys = deriveFieldKeys(randomBytes(32))
      const sealed = sealEnvelope(
        Buffer.from('amoxicillin'),
        keys,
        1,
        envelopeAad('medications', 'drug_enc', randomBytes(16)),
      )
      expect(await insertMedication(db, patient, sealed)).to.deep.equal({
        affectedRows: 1,
      })
      // MySQL 3819 ER_CHECK_CONSTRAINT_VIOLATED; MariaDB 4025 ER_CONSTRAINT_FAILED
      // (which mysql2, knowing MySQL's numbers, names ER_INNODB_AUTOEXTEND_SIZE_OUT_OF_RANGE).
      const errno = (await engineUnderTest()) === 'mariadb' ? 4025 : 3819
      for (const bad of [
        Buffer.from('amoxicillin'), // plaintext
        Buffer.alloc(0),
        Buffer.concat([sealed, Buffer.of(0)]), // not 53 + whole blocks
        Buffer.concat([Buffer.of(2), sealed.subarray(1)]), // another format byte
        sealed.subarray(0, 53 + 15),
      ]) {
        const err = await expect(insertMedication(db, patient, bad)).to.be.rejectedWith(
          DatabaseError,
        )
        expect(err).to.include({ errno })
      }
      const err = await expect(
        insertMedication(db, patient, sealed, 'Active'),
      ).to.be.rejectedWith(DatabaseError)
      expect(err).to.include({ errno })
      // A BLOB column is checked the same way.
      const row = await db('medications').first('id')
      await expect(
        executeWrite(
          db,
          db('medications')
            .where({ id: row!.id })
            .update({ notes_enc: Buffer.alloc(80, 1) }),
        ),
      ).to.be.rejectedWith(DatabaseError)
      const [{ n }] = (await db('medications').count({ n: '*' })) as [
        { n: number | string },
      ]
      expect(Number(n)).to.equal(1)
    })
  })

  it('describeTableDrift reports a changed type, nullability, collation, a column missing or added, a CHECK and catalog that differ', async () => {
    await withMigrated(async (db) => {
      await createEncryptedTable(db, medications)
      await db.raw('ALTER TABLE medications MODIFY drug_enc BLOB NOT NULL')
      await db.raw('ALTER TABLE medications MODIFY dose_enc VARBINARY(101) NOT NULL')
      await db.raw(
        'ALTER TABLE medications MODIFY code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL',
      )
      await db.raw('ALTER TABLE medications DROP COLUMN started_at')
      await db.raw('ALTER TABLE medications ADD COLUMN legacy_name VARCHAR(50) NULL')
      await db.raw(
        (await engineUnderTest()) === 'mariadb'
          ? 'ALTER TABLE medications DROP CONSTRAINT medications_notes_enc_env'
          : 'ALTER TABLE medications DROP CHECK medications_notes_enc_env',
      )
      await db('emr_vault_declared_tables')
        .where({ table_name: 'medications' })
        .update({
          encrypted_columns: JSON.stringify(['drug_enc', 'dose_enc', 'old_enc']),
        })
      expect(await describeTableDrift(db, medications)).to.deep.equal([
        {
          kind: 'wrong-type',
          table: 'medications',
          column: 'drug_enc',
          detail: 'expected varbinary(261), found blob',
        },
        {
          kind: 'wrong-nullability',
          table: 'medications',
          column: 'dose_enc',
          detail: 'expected NULL, found NOT NULL',
        },
        {
          kind: 'wrong-collation',
          table: 'medications',
          column: 'code',
          detail: 'expected utf8mb4_bin, found utf8mb4_general_ci',
        },
        {
          kind: 'missing-column',
          table: 'medications',
          column: 'started_at',
          detail: 'expected datetime(3)',
        },
        {
          kind: 'extra-column',
          table: 'medications',
          column: 'legacy_name',
          detail: 'varchar(50) is not declared',
        },
        {
          kind: 'missing-check',
          table: 'medications',
          column: 'notes_enc',
          detail: 'no CHECK constraint medications_notes_enc_env',
        },
        {
          kind: 'catalog-differs',
          table: 'medications',
          column: 'notes_enc',
          detail: 'declared but not in the catalog',
        },
        {
          kind: 'catalog-differs',
          table: 'medications',
          column: 'scan_enc',
          detail: 'declared but not in the catalog',
        },
        {
          kind: 'catalog-differs',
          table: 'medications',
          column: 'old_enc',
          detail: 'in the catalog but not declared',
        },
      ])
      // A plaintext column under conversion is expected, not extra.
      const converting = defineTable({
        ...MEDICATIONS,
        convertingFrom: { drug: 'legacy_name' },
      })
      expect(
        (await describeTableDrift(db, converting)).filter(
          (p) => p.kind === 'extra-column',
        ),
      ).to.deep.equal([])
    })
  })

  it('addEncryptedColumns: a later migration adds fields, records the new envelope columns, and replays on a new database', async () => {
    const withAllergy = defineTable({
      ...MEDICATIONS,
      encrypted: {
        ...MEDICATIONS.encrypted,
        reaction: encrypted.text({ maxBytes: 500, nullable: true }),
      },
      plain: { ...MEDICATIONS.plain, severity: plain.integer({ nullable: true }) },
    })
    const later: [string, Knex.Migration] = [
      '20261204120000_medication_reaction',
      {
        up: (k: Knex) => addEncryptedColumns(k, withAllergy, ['reaction', 'severity']),
        down: (k: Knex) =>
          k.schema.alterTable('medications', (t) => {
            t.dropChecks('medications_reaction_enc_env')
            t.dropColumns('reaction_enc', 'severity')
          }),
      },
    ]
    await withMigrated(async (db, database) => {
      const app = appKnex(database, appMigrations([CREATE_MEDICATIONS]))
      try {
        await app.migrate.latest()
        const patient = await somePatient(db)
        await insertMedication(
          db,
          patient,
          Buffer.concat([Buffer.of(1), randomBytes(68)]),
        )
      } finally {
        await app.destroy()
      }
      const both = appKnex(database, appMigrations([CREATE_MEDICATIONS, later]))
      try {
        expect(await both.migrate.latest()).to.deep.equal([2, [later[0]]])
        expect(await describeTableDrift(db, withAllergy)).to.deep.equal([])
        expect((await catalogEntry(db, 'medications'))?.columns).to.deep.equal([
          'drug_enc',
          'dose_enc',
          'notes_enc',
          'scan_enc',
          'reaction_enc',
        ])
        // A field that may not be null cannot be added to a table with rows.
        const required = defineTable({
          ...MEDICATIONS,
          encrypted: {
            ...MEDICATIONS.encrypted,
            batch: encrypted.text({ maxBytes: 20 }),
          },
        })
        const before = await catalogEntry(db, 'medications')
        const err = await expect(
          addEncryptedColumns(db, required, ['batch']),
        ).to.be.rejectedWith(ValidationError)
        expect(err).to.include({ field: 'batch', code: 'VALIDATION' })
        expect(await catalogEntry(db, 'medications')).to.deep.equal(before)
        expect(await db.schema.hasColumn('medications', 'batch_enc')).to.equal(false)
        await expect(addEncryptedColumns(db, withAllergy, ['nope'])).to.be.rejectedWith(
          ValidationError,
        )
        expect(await both.migrate.rollback()).to.deep.equal([2, [later[0]]])
        expect(await db.schema.hasColumn('medications', 'reaction_enc')).to.equal(false)
      } finally {
        await both.destroy()
      }
    })
    // Today's declaration in both migrations: the first makes the table whole,
    // the second finds its columns there and adds nothing.
    await withMigrated(async (db, database) => {
      const today: [string, Knex.Migration] = [
        CREATE_MEDICATIONS[0],
        {
          up: (k: Knex) => createEncryptedTable(k, withAllergy),
          down: (k: Knex) => dropEncryptedTable(k, withAllergy),
        },
      ]
      const app = appKnex(database, appMigrations([today, later]))
      try {
        expect(await app.migrate.latest()).to.deep.equal([1, [today[0], later[0]]])
        expect(await describeTableDrift(db, withAllergy)).to.deep.equal([])
      } finally {
        await app.destroy()
      }
    })
  })

  it("refuses to create a table before emr-vault's migrations, and creates nothing", async () => {
    await withFreshDatabase('emr_vault_ddl', async (database) => {
      const db = createDb({ ...testDbConfig(), database, poolMax: 2 })
      try {
        const err = await expect(
          createEncryptedTable(db, medications),
        ).to.be.rejectedWith(ConfigurationError)
        expect(err.message).to.match(/run emr-vault's migrations/)
        expect(await db.schema.hasTable('medications')).to.equal(false)
      } finally {
        await db.destroy()
      }
    })
  })

  it('a catalog row a migration would not write is an IntegrityError naming the rule, not the content', async () => {
    await withMigrated(async (db) => {
      for (const [row, message] of [
        [
          {
            table_name: 'labs',
            patient_column: 'patient_id',
            encrypted_columns: '[oops',
          },
          'emr_vault_declared_tables row labs: encrypted_columns is not JSON',
        ],
        [
          {
            table_name: 'labs',
            patient_column: 'patient_id',
            encrypted_columns: '["a_enc", "x`; DROP TABLE patients; --"]',
          },
          'emr_vault_declared_tables row labs: encrypted_columns must be a non-empty JSON array of distinct column names',
        ],
        [
          {
            table_name: 'Labs-2',
            patient_column: 'patient_id',
            encrypted_columns: '["a_enc"]',
          },
          'a emr_vault_declared_tables row: a table or patient column that is not a name',
        ],
        [
          { table_name: 'labs', patient_column: 'patient_id', encrypted_columns: '[]' },
          'emr_vault_declared_tables row labs: encrypted_columns must be a non-empty JSON array of distinct column names',
        ],
      ] as const) {
        await db('emr_vault_declared_tables').insert(row)
        const err = await expect(listCatalog(db)).to.be.rejectedWith(IntegrityError)
        expect(err.message).to.equal(message)
        await db('emr_vault_declared_tables')
          .where({ table_name: row.table_name })
          .delete()
      }
      expect((await listCatalog(db)).length).to.equal(2)
    })
  })

  it('refuses declarations the DDL cannot express, before touching the database', async () => {
    await withMigrated(async (db) => {
      const bad: [TableDeclaration, string][] = [
        [
          defineTable({
            name: 'bad_enum',
            encrypted: { a: enc('text', 10) },
            plain: { s: plainColumn('enum', false, { values: ["it's"] }) },
          }),
          'plain.s',
        ],
        [
          defineTable({
            name: 'bad_text',
            encrypted: { a: enc('text', 10) },
            plain: { s: plainColumn('text') },
          }),
          'plain.s',
        ],
        [
          defineTable({ name: 'bad_size', encrypted: { a: enc('text', -1) } }),
          'encrypted.a',
        ],
      ]
      for (const [decl, field] of bad) {
        const err = await expect(createEncryptedTable(db, decl)).to.be.rejectedWith(
          ValidationError,
        )
        expect(err).to.include({ field })
        expect(await db.schema.hasTable(decl.name)).to.equal(false)
        expect(await catalogEntry(db, decl.name)).to.equal(undefined)
      }
    })
  })
})
