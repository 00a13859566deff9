import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import knex, { type Knex } from 'knex'
import { expect } from '../support/chai.js'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import {
  createDb,
  emrVaultMigrations,
  migrateLatest,
  migrateRollback,
  migrationStatus,
  type DbConfig,
} from '../../src/db/index.js'
import {
  ConfigurationError,
  DatabaseError,
  MigrationError,
} from '../../src/errors/index.js'
import { MIGRATIONS } from '../../src/migrations/index.js'
import * as userKeyCertificates from '../../src/migrations/20261202_0004_user_key_certificates.js'
import * as emergencyKeyVersions from '../../src/migrations/20261202_0005_emergency_key_versions.js'
import * as chartState from '../../src/migrations/20261202_0006_chart_state.js'
import * as patientSearchIndexes from '../../src/migrations/20261203_0007_patient_search_indexes.js'
import { createVault } from '../../src/services/vault.js'
import { withFreshDatabase } from '../support/fresh-database.js'
import { testDbConfig } from '../support/test-env.js'

/**
 * emr-vault's migrations beside other histories: the command line from source
 * and the library agree on one history; a database migrated by an earlier
 * version (history in knex_migrations under the file names) is carried over
 * without running anything; an application's own knex migrations keep
 * knex_migrations; histories this release cannot account for are refused with
 * nothing changed; rollback and latest undo and redo each other. Every test
 * works on a database of its own.
 */

const NAMES = MIGRATIONS.map((m) => m.name)
/** The migrations an earlier version recorded in knex_migrations, before the history moved. */
const EARLIER_RELEASE = NAMES.slice(0, 5)
/** Migrations added since: the first migrate after the carry-over runs them. */
const SINCE_THEN = NAMES.slice(5)
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

/** The tables the migrations create, as information_schema lists them. */
const SCHEMA_TABLES = [
  'audit_chain_head',
  'audit_log',
  'clinical_records',
  'emergency_key',
  'emergency_key_holders',
  'emr_vault_chart_states',
  'emr_vault_declared_tables',
  'emr_vault_search_index_runs',
  'key_rotation_runs',
  'patient_key_emergency_seals',
  'patient_key_grants',
  'patient_key_recovery_seals',
  'patient_key_versions',
  'patients',
  'users',
]

function configFor(database: string): DbConfig {
  return { ...testDbConfig(), database, poolMax: 4 }
}

/** Opens `count` pools on `database` (like as many processes), closes them after `body`. */
async function withDbs<T>(
  database: string,
  count: number,
  body: (dbs: Knex[]) => Promise<T>,
): Promise<T> {
  const dbs = Array.from({ length: count }, () => createDb(configFor(database)))
  try {
    return await body(dbs)
  } finally {
    await Promise.all(dbs.map((db) => db.destroy()))
  }
}

async function withDb<T>(database: string, body: (db: Knex) => Promise<T>): Promise<T> {
  return withDbs(database, 1, ([db]) => body(db!))
}

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

/** An application's own migration, through its own source, in knex's default table. */
function appMigrations(name: string, table: string): Knex.MigratorConfig {
  return {
    migrationSource: {
      getMigrations: () => Promise.resolve([name]),
      getMigrationName: (m: unknown) => String(m),
      getMigration: () =>
        Promise.resolve({
          up: (k: Knex) =>
            k.schema.createTable(table, (t) => {
              t.increments('id')
              t.specificType('patient_id', 'BINARY(16)').notNullable()
            }),
          down: (k: Knex) => k.schema.dropTable(table),
        }),
    },
  }
}

/**
 * What an earlier version left: knex's own migrator on knex_migrations with the
 * migrations named after the files it loaded (`….ts` from source, `….js`
 * built). Run in two batches, the first three and then the rest, so that kept
 * batch numbers can be told from renumbered ones.
 */
async function migrateTheOldWay(database: string, extension: '.ts' | '.js') {
  const oldSource = (count: number): Knex.MigratorConfig => ({
    tableName: 'knex_migrations',
    migrationSource: {
      getMigrations: () => Promise.resolve(MIGRATIONS.slice(0, count)),
      getMigrationName: (m: unknown) => `${(m as { name: string }).name}${extension}`,
      getMigration: (m: unknown) =>
        Promise.resolve((m as (typeof MIGRATIONS)[number]).migration),
    },
  })
  const old = appKnex(database, {})
  try {
    await old.migrate.latest(oldSource(3))
    await old.migrate.latest(oldSource(5))
  } finally {
    await old.destroy()
  }
}

interface HistoryRow {
  id: number
  name: string
  batch: number
  migration_time: string
}

/** Rows of a history table, times as the server prints them (no client time zone). */
async function historyRows(db: Knex, table: string): Promise<HistoryRow[]> {
  if (!(await db.schema.hasTable(table))) return []
  return (await db(table)
    .select(
      'id',
      'name',
      'batch',
      db.raw("DATE_FORMAT(migration_time, '%Y-%m-%d %H:%i:%s') AS migration_time"),
    )
    .orderBy('id')) as HistoryRow[]
}

async function tables(db: Knex): Promise<string[]> {
  const [rows] = (await db.raw(
    'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()',
  )) as [{ t: string }[]]
  // Sorted here: MySQL and MariaDB collate information_schema differently.
  return rows.map((r) => r.t).sort()
}

/** Every column of the schema's tables, to compare a schema before and after. */
async function columns(db: Knex): Promise<string[]> {
  const [rows] = (await db.raw(
    "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, ' ', IS_NULLABLE) AS c " +
      'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ' +
      "AND TABLE_NAME NOT LIKE 'emr\\_vault\\_migrations%' ORDER BY TABLE_NAME, ORDINAL_POSITION",
  )) as [{ c: string }[]]
  return rows.map((r) => r.c)
}

/**
 * Columns the migrations added since the earlier version made the others, and
 * the one they replaced (`emergency_key.id`, by the key's version).
 */
const CHANGED_SINCE = [
  /^emr_vault_declared_tables\./,
  /^emr_vault_chart_states\./,
  /^emr_vault_search_index_runs\./,
  /^users\.public_key_(version|certificate) /,
  /^emergency_key\.(id|version) /,
  /^(emergency_key_holders|patient_key_emergency_seals)\.emergency_key_version /,
  /^patients\.bidx_/,
  /^users\.roles /,
]

/** The columns of the tables an earlier version's migrations made, as it made them. */
async function columnsOfEarlierTables(db: Knex): Promise<string[]> {
  return (await columns(db)).filter((c) => !CHANGED_SINCE.some((added) => added.test(c)))
}

/** What the data tables hold: enough to see that no migration ran again. */
async function dataCounts(db: Knex): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const table of ['users', 'patients', 'audit_log', 'audit_chain_head']) {
    const [row] = (await db(table).count({ n: '*' })) as { n: number | string }[]
    counts[table] = Number(row?.n)
  }
  return counts
}

/**
 * A user and a patient written through the services, so the tables hold real rows.
 * On a database of an earlier release the services need the users columns of the
 * key certificates: they are added for the write and dropped again, so the schema
 * is the earlier release's when the test goes on.
 */
async function someData(db: Knex): Promise<void> {
  // The services write the latest schema: the migrations an earlier schema lacks
  // are applied for the moment and undone after, in reverse order.
  const missing = [
    ...(!(await db.schema.hasColumn('users', 'public_key_certificate'))
      ? [userKeyCertificates]
      : []),
    ...(!(await db.schema.hasColumn('emergency_key', 'version'))
      ? [emergencyKeyVersions]
      : []),
    ...(!(await db.schema.hasTable('emr_vault_chart_states')) ? [chartState] : []),
    ...(!(await db.schema.hasColumn('patients', 'bidx_by_national_id'))
      ? [patientSearchIndexes]
      : []),
  ]
  for (const m of missing) await m.up(db)
  try {
    await servicesData(db)
  } finally {
    for (const m of missing.reverse()) await m.down(db)
  }
}

async function servicesData(db: Knex): Promise<void> {
  const recovery = generateUserKeyPair()
  const vault = createVault({
    db,
    recoveryPublicKey: recovery.publicKey,
    auditKey: randomBytes(32),
    searchKey: randomBytes(32),
    kdfPolicy: TEST_KDF_POLICY,
  })
  const password = `pw-${randomBytes(9).toString('base64url')}`
  await vault.registerUser({ username: 'mig-alice', displayName: 'Alice', password })
  const alice = await vault.login('mig-alice', password)
  try {
    await alice.createPatient({ fullName: 'Ada Lovelace', dateOfBirth: '1815-12-10' })
  } finally {
    alice.close()
  }
}

/** `emr-vault <args>` run from source through tsx, on `database`. */
function cliFromSource(
  database: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { ...process.env, NODE_ENV: 'test', EMR_VAULT_DB_NAME: database },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

describe('migrations: one history for the command line, the library and the application', function () {
  // Each test migrates a database or two from nothing, and some start the CLI.
  this.timeout(90_000)

  describe('the command line and the library', () => {
    it('a database migrated by the library is at the latest migration for the command line and for knex', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await withDb(database, async (db) => {
          expect(await migrateLatest(db)).to.deep.equal({
            batch: 1,
            applied: NAMES,
            carriedOver: [],
          })
          expect(await migrationStatus(db)).to.deep.equal({ applied: NAMES, pending: [] })
          // knex itself, configured as createDb() configures it (the CLI's and the knexfile's way).
          const [completed, pending] = (await db.migrate.list()) as [
            { name: string }[],
            unknown[],
          ]
          expect(completed.map((c) => c.name)).to.deep.equal(NAMES)
          expect(pending).to.deep.equal([])
          expect(await db.migrate.currentVersion()).to.equal('20261203')
          const rows = await historyRows(db, 'emr_vault_migrations')
          expect(rows.map((r) => [r.name, r.batch])).to.deep.equal(
            NAMES.map((n) => [n, 1]),
          )
          expect(await db.schema.hasTable('knex_migrations')).to.equal(false)
          expect(await tables(db)).to.deep.equal(
            [
              ...SCHEMA_TABLES,
              'emr_vault_migrations',
              'emr_vault_migrations_lock',
            ].sort(),
          )
        })
        const status = await cliFromSource(database, ['migrate', 'status', '--json'])
        expect(status.code, status.stderr).to.equal(0)
        expect(JSON.parse(status.stdout)).to.deep.equal({ applied: NAMES, pending: [] })
        const again = await cliFromSource(database, ['migrate', '--json'])
        expect(again.code, again.stderr).to.equal(0)
        expect(JSON.parse(again.stdout)).to.deep.equal({
          batch: 1,
          applied: [],
          carriedOver: [],
        })
      })
    })

    it('a database migrated by the command line run from source is at the latest migration for the library', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        const cli = await cliFromSource(database, ['migrate', '--json'])
        expect(cli.code, cli.stderr).to.equal(0)
        expect(JSON.parse(cli.stdout)).to.deep.equal({
          batch: 1,
          applied: NAMES,
          carriedOver: [],
        })
        const human = await cliFromSource(database, ['migrate', 'status'])
        expect(human.code, human.stderr).to.equal(0)
        expect(human.stdout.split('\n')[0]).to.equal(`${NAMES.length} applied, 0 pending`)
        await withDb(database, async (db) => {
          expect(await migrationStatus(db)).to.deep.equal({ applied: NAMES, pending: [] })
          expect(await migrateLatest(db)).to.deep.equal({
            batch: 1,
            applied: [],
            carriedOver: [],
          })
          expect((await historyRows(db, 'emr_vault_migrations')).length).to.equal(
            NAMES.length,
          )
        })
      })
    })
  })

  describe('a database migrated by an earlier version', () => {
    for (const extension of ['.ts', '.js'] as const) {
      it(`is carried over from knex_migrations (names ending in ${extension}) without running anything, batches and times kept`, async () => {
        await withFreshDatabase('emr_vault_mig', async (database) => {
          await migrateTheOldWay(database, extension)
          await withDb(database, async (db) => {
            await someData(db)
            // An application's own row in the same table stays where it is.
            await db('knex_migrations').insert({
              name: '20261130120000_app_orders.js',
              batch: 3,
              migration_time: new Date(),
            })
            const before = await historyRows(db, 'knex_migrations')
            expect(before.map((r) => [r.name, r.batch])).to.deep.equal([
              ...EARLIER_RELEASE.map((n, i) => [`${n}${extension}`, i < 3 ? 1 : 2]),
              ['20261130120000_app_orders.js', 3],
            ])
            const data = await dataCounts(db)
            expect(data).to.deep.equal({
              users: 1,
              patients: 1,
              audit_log: 3,
              audit_chain_head: 1,
            })
            const schema = await columnsOfEarlierTables(db)

            // Read-only until the next migrate: the old history counts as applied.
            expect(await migrationStatus(db)).to.deep.equal({
              applied: EARLIER_RELEASE,
              pending: SINCE_THEN,
            })
            expect(await db.schema.hasTable('emr_vault_migrations')).to.equal(false)

            // Carried over without running; only the migrations added since run.
            expect(await migrateLatest(db)).to.deep.equal({
              batch: 3,
              applied: SINCE_THEN,
              carriedOver: EARLIER_RELEASE,
            })
            const after = await historyRows(db, 'emr_vault_migrations')
            expect(
              after
                .slice(0, EARLIER_RELEASE.length)
                .map((r) => [r.name, r.batch, r.migration_time]),
            ).to.deep.equal(
              before
                .slice(0, EARLIER_RELEASE.length)
                .map((r) => [r.name.slice(0, -3), r.batch, r.migration_time]),
            )
            expect(
              after.slice(EARLIER_RELEASE.length).map((r) => [r.name, r.batch]),
            ).to.deep.equal(SINCE_THEN.map((n) => [n, 3]))
            expect(await historyRows(db, 'knex_migrations')).to.deep.equal(
              before.slice(EARLIER_RELEASE.length),
            )
            // knex's lock table is the application's too: left in place.
            expect(await db.schema.hasTable('knex_migrations_lock')).to.equal(true)
            expect(await dataCounts(db)).to.deep.equal(data)
            expect(await columnsOfEarlierTables(db)).to.deep.equal(schema)
            expect(await migrationStatus(db)).to.deep.equal({
              applied: NAMES,
              pending: [],
            })

            // Again: nothing to carry over, nothing to run.
            expect(await migrateLatest(db)).to.deep.equal({
              batch: 3,
              applied: [],
              carriedOver: [],
            })
            expect(await historyRows(db, 'emr_vault_migrations')).to.deep.equal(after)
            expect(await historyRows(db, 'knex_migrations')).to.deep.equal(
              before.slice(EARLIER_RELEASE.length),
            )
          })
        })
      })
    }

    it('is carried over once when several processes migrate it at the same moment', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await migrateTheOldWay(database, '.js')
        await withDbs(database, 4, async (dbs) => {
          const results = await Promise.all(dbs.map((db) => migrateLatest(db)))
          expect(results.flatMap((r) => r.applied)).to.deep.equal(SINCE_THEN)
          expect(results.map((r) => r.carriedOver.length).sort()).to.deep.equal([
            0,
            0,
            0,
            EARLIER_RELEASE.length,
          ])
          const db = dbs[0]!
          const rows = await historyRows(db, 'emr_vault_migrations')
          expect(rows.map((r) => [r.name, r.batch])).to.deep.equal(
            NAMES.map((n, i) => [n, i < 3 ? 1 : i < EARLIER_RELEASE.length ? 2 : 3]),
          )
          expect(await historyRows(db, 'knex_migrations')).to.deep.equal([])
          expect(await db('emr_vault_migrations_lock').select('is_locked')).to.deep.equal(
            [{ is_locked: 0 }],
          )
        })
      })
    })

    it('rollback undoes the last batch it was recorded in, and latest redoes it', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await migrateTheOldWay(database, '.ts')
        await withDb(database, async (db) => {
          await someData(db)
          const data = await dataCounts(db)
          expect(await migrateRollback(db)).to.deep.equal({
            batch: 2,
            undone: ['20261129_0005_emergency_key_mac', '20261129_0004_rotation_runs'],
          })
          expect(await db.schema.hasTable('key_rotation_runs')).to.equal(false)
          expect(await db.schema.hasColumn('emergency_key', 'public_key_mac')).to.equal(
            false,
          )
          expect(await dataCounts(db)).to.deep.equal(data)
          expect(await migrationStatus(db)).to.deep.equal({
            applied: NAMES.slice(0, 3),
            pending: NAMES.slice(3),
          })
          expect(await migrateLatest(db)).to.deep.equal({
            batch: 2,
            applied: NAMES.slice(3),
            carriedOver: [],
          })
          expect(await dataCounts(db)).to.deep.equal(data)
        })
      })
    })

    it('knex on its own (a knexfile with emrVaultMigrations) refuses it instead of creating tables that exist', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await migrateTheOldWay(database, '.ts')
        await withDb(database, async (db) => {
          const before = await historyRows(db, 'knex_migrations')
          const schema = await columns(db)
          const err = await expect(db.migrate.latest()).to.be.rejectedWith(MigrationError)
          expect(err).to.include({ problem: 'legacy-history', code: 'CONFIGURATION' })
          expect(err.message).to.match(/run emr-vault migrate \(or migrateLatest\(db\)\)/)
          expect(await historyRows(db, 'knex_migrations')).to.deep.equal(before)
          expect(await historyRows(db, 'emr_vault_migrations')).to.deep.equal([])
          expect(await columns(db)).to.deep.equal(schema)
        })
      })
    })
  })

  describe("an application's own knex migrations in knex_migrations", () => {
    const APP = '20261130120000_appointments'

    for (const order of ['emr-vault first', 'the application first'] as const) {
      it(`live beside emr-vault's (${order}): both run, both statuses are clean, neither sees the other's names`, async () => {
        await withFreshDatabase('emr_vault_mig', async (database) => {
          const app = appKnex(database, appMigrations(APP, 'app_appointments'))
          try {
            await withDb(database, async (db) => {
              const runEmrVault = async () =>
                expect(await migrateLatest(db)).to.deep.include({ applied: NAMES })
              const runApp = async () =>
                expect(await app.migrate.latest()).to.deep.equal([1, [APP]])
              if (order === 'emr-vault first') {
                await runEmrVault()
                await runApp()
              } else {
                await runApp()
                await runEmrVault()
              }
              expect(await migrationStatus(db)).to.deep.equal({
                applied: NAMES,
                pending: [],
              })
              expect(((await db.migrate.list()) as unknown[][])[1]).to.deep.equal([])
              const [appDone, appPending] = (await app.migrate.list()) as [
                { name: string }[],
                unknown[],
              ]
              expect(appDone.map((m) => m.name)).to.deep.equal([APP])
              expect(appPending).to.deep.equal([])
              // Both again: nothing to do on either side.
              expect(await migrateLatest(db)).to.deep.include({
                applied: [],
                carriedOver: [],
              })
              expect(await app.migrate.latest()).to.deep.equal([1, []])
              expect(
                (await historyRows(db, 'knex_migrations')).map((r) => [r.name, r.batch]),
              ).to.deep.equal([[APP, 1]])
              expect(
                (await historyRows(db, 'emr_vault_migrations')).map((r) => r.name),
              ).to.deep.equal(NAMES)
              expect(await tables(db)).to.include.members([
                'app_appointments',
                'users',
                'knex_migrations',
                'emr_vault_migrations',
              ])
              // Each rollback undoes its own side only.
              expect(await app.migrate.rollback()).to.deep.equal([1, [APP]])
              expect(await migrationStatus(db)).to.deep.equal({
                applied: NAMES,
                pending: [],
              })
              expect(await db.schema.hasTable('app_appointments')).to.equal(false)
            })
          } finally {
            await app.destroy()
          }
        })
      })
    }

    it('an application row named like an old emr-vault migration is left alone when emr-vault has none there', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        const name = '20261130_0001_app_orders.js'
        const app = appKnex(database, appMigrations(name, 'app_orders'))
        try {
          await app.migrate.latest()
          await withDb(database, async (db) => {
            expect(await migrateLatest(db)).to.deep.include({
              applied: NAMES,
              carriedOver: [],
            })
            expect(
              (await historyRows(db, 'knex_migrations')).map((r) => r.name),
            ).to.deep.equal([name])
          })
        } finally {
          await app.destroy()
        }
      })
    })
  })

  describe('a history this release cannot account for', () => {
    it('old names it does not know: a typed error, and nothing changed', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await migrateTheOldWay(database, '.ts')
        await withDb(database, async (db) => {
          await db('knex_migrations').insert({
            name: '20270101_0006_from_a_newer_release.ts',
            batch: 3,
            migration_time: new Date(),
          })
          const before = await historyRows(db, 'knex_migrations')
          const schema = await columns(db)
          for (const call of [
            () => migrateLatest(db),
            () => migrationStatus(db),
            () => migrateRollback(db),
          ]) {
            const err = await expect(call()).to.be.rejectedWith(MigrationError)
            expect(err).to.be.instanceOf(ConfigurationError)
            expect(err).to.include({
              problem: 'unknown-migrations',
              code: 'CONFIGURATION',
            })
            expect(err.migrations).to.deep.equal([
              '20270101_0006_from_a_newer_release.ts',
            ])
            expect(err.message).to.equal(
              'knex_migrations records emr-vault migrations this release does not have ' +
                '(20270101_0006_from_a_newer_release.ts): a newer release migrated this ' +
                'database; run that release or a later one',
            )
          }
          expect(await historyRows(db, 'knex_migrations')).to.deep.equal(before)
          expect(await db.schema.hasTable('emr_vault_migrations')).to.equal(false)
          expect(await columns(db)).to.deep.equal(schema)
        })
        // The command line: exit 3 and that one line, not an unexpected error.
        const cli = await cliFromSource(database, ['migrate'])
        expect(cli.code).to.equal(3)
        expect(cli.stderr.trim().split('\n')).to.deep.equal([
          'emr-vault migrate: knex_migrations records emr-vault migrations this release does ' +
            'not have (20270101_0006_from_a_newer_release.ts): a newer release migrated this ' +
            'database; run that release or a later one',
        ])
      })
    })

    it('names in emr_vault_migrations it does not know (a newer release): a typed error, and nothing changed', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await withDb(database, async (db) => {
          await migrateLatest(db)
          await db('emr_vault_migrations').insert({
            name: '20270101_0006_from_a_newer_release',
            batch: 2,
            migration_time: new Date(),
          })
          const before = await historyRows(db, 'emr_vault_migrations')
          const schema = await columns(db)
          for (const call of [
            () => migrateLatest(db),
            () => migrationStatus(db),
            () => migrateRollback(db),
          ]) {
            const err = await expect(call()).to.be.rejectedWith(MigrationError)
            expect(err).to.include({ problem: 'unknown-migrations' })
            expect(err.migrations).to.deep.equal(['20270101_0006_from_a_newer_release'])
          }
          expect(await historyRows(db, 'emr_vault_migrations')).to.deep.equal(before)
          expect(await columns(db)).to.deep.equal(schema)
        })
        const cli = await cliFromSource(database, ['migrate', 'status', '--json'])
        expect(cli.code).to.equal(3)
        // With --json the error is one JSON line on stderr.
        const { error } = JSON.parse(cli.stderr) as {
          error: { code: string; message: string; exitCode: number }
        }
        expect(error).to.include({ code: 'CONFIGURATION', exitCode: 3 })
        expect(error.message).to.match(/^emr_vault_migrations records/)
        expect(cli.stderr).not.to.match(/unexpected error/)
      })
    })

    it('a history in both tables: a typed error, and nothing changed', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await migrateTheOldWay(database, '.js')
        await withDb(database, async (db) => {
          await db.raw(
            'CREATE TABLE emr_vault_migrations (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, ' +
              'name VARCHAR(255), batch INT, migration_time TIMESTAMP NULL)',
          )
          await db('emr_vault_migrations').insert({
            name: NAMES[0],
            batch: 1,
            migration_time: new Date(),
          })
          const legacy = await historyRows(db, 'knex_migrations')
          const own = await historyRows(db, 'emr_vault_migrations')
          const err = await expect(migrateLatest(db)).to.be.rejectedWith(MigrationError)
          expect(err).to.include({ problem: 'history-conflict' })
          expect(await historyRows(db, 'knex_migrations')).to.deep.equal(legacy)
          expect(await historyRows(db, 'emr_vault_migrations')).to.deep.equal(own)
        })
      })
    })
  })

  describe('rollback and latest', () => {
    it('undo and redo each other: the same tables and columns, the same history', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await withDb(database, async (db) => {
          await migrateLatest(db)
          const schema = await columns(db)
          expect(schema.length).to.be.greaterThan(60)
          expect(await migrateRollback(db)).to.deep.equal({
            batch: 1,
            undone: [...NAMES].reverse(),
          })
          expect(await tables(db)).to.deep.equal([
            'emr_vault_migrations',
            'emr_vault_migrations_lock',
          ])
          expect(await migrationStatus(db)).to.deep.equal({ applied: [], pending: NAMES })
          expect(await migrateRollback(db)).to.deep.equal({ batch: 0, undone: [] })
          expect(await migrateLatest(db)).to.deep.equal({
            batch: 1,
            applied: NAMES,
            carriedOver: [],
          })
          expect(await columns(db)).to.deep.equal(schema)
          expect(
            (await historyRows(db, 'emr_vault_migrations')).map((r) => [r.name, r.batch]),
          ).to.deep.equal(NAMES.map((n) => [n, 1]))
          // The genesis head the audit migration seeds is back.
          expect(await db('audit_chain_head').select('id', 'last_seq')).to.deep.equal([
            { id: 1, last_seq: '0' },
          ])
        })
      })
    })

    it('several processes migrating a new database at once: one runs the migrations, the others wait and find nothing to do', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await withDbs(database, 3, async (dbs) => {
          const results = await Promise.all(dbs.map((db) => migrateLatest(db)))
          expect(results.map((r) => r.applied.length).sort()).to.deep.equal([
            0,
            0,
            NAMES.length,
          ])
          expect(results.map((r) => r.batch)).to.deep.equal([1, 1, 1])
          expect(
            (await historyRows(dbs[0]!, 'emr_vault_migrations')).map((r) => r.name),
          ).to.deep.equal(NAMES)
        })
      })
    })

    it('a migration that fails: a DatabaseError naming it, the ones before it recorded, the lock released', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await withDb(database, async (db) => {
          // A table in the way of the fourth migration.
          await db.raw('CREATE TABLE key_rotation_runs (id INT PRIMARY KEY)')
          const err = await expect(migrateLatest(db)).to.be.rejectedWith(DatabaseError)
          expect(err).to.include({ driverCode: 'ER_TABLE_EXISTS_ERROR', errno: 1050 })
          expect(err.message).to.equal(
            'migration 20261129_0004_rotation_runs failed: ER_TABLE_EXISTS_ERROR (errno 1050, SQLSTATE 42S01)',
          )
          expect(await migrationStatus(db)).to.deep.equal({
            applied: NAMES.slice(0, 3),
            pending: NAMES.slice(3),
          })
          expect(await db('emr_vault_migrations_lock').select('is_locked')).to.deep.equal(
            [{ is_locked: 0 }],
          )
        })
        const cli = await cliFromSource(database, ['migrate'])
        expect(cli.code).to.equal(3)
        expect(cli.stderr.trim().split('\n')).to.deep.equal([
          'emr-vault migrate: migration 20261129_0004_rotation_runs failed: ER_TABLE_EXISTS_ERROR (errno 1050, SQLSTATE 42S01)',
        ])
      })
    })

    it('a lock left by a killed run: a typed error naming the way out once the wait is over', async () => {
      await withFreshDatabase('emr_vault_mig', async (database) => {
        await withDb(database, async (db) => {
          await migrateLatest(db)
          await db('emr_vault_migrations_lock').update({ is_locked: 1 })
          const err = await expect(
            migrateRollback(db, { lockTimeoutMs: 0 }),
          ).to.be.rejectedWith(MigrationError)
          expect(err).to.include({ problem: 'locked' })
          expect(err.message).to.include(
            'UPDATE emr_vault_migrations_lock SET is_locked = 0',
          )
          expect(await migrationStatus(db)).to.deep.equal({ applied: NAMES, pending: [] })
        })
      })
    })
  })

  it('lists the migrations in the order they run, each new one at the end', () => {
    expect(NAMES).to.deep.equal([
      '20261129_0001_key_hierarchy',
      '20261129_0002_audit_log',
      '20261129_0003_break_glass',
      '20261129_0004_rotation_runs',
      '20261129_0005_emergency_key_mac',
      '20261202_0003_declared_tables',
      '20261202_0004_user_key_certificates',
      '20261202_0005_emergency_key_versions',
      '20261202_0006_chart_state',
      '20261203_0007_patient_search_indexes',
    ])
  })

  it('emrVaultMigrations is the knexfile fragment: its own source and table', () => {
    expect(emrVaultMigrations.tableName).to.equal('emr_vault_migrations')
    expect(Object.isFrozen(emrVaultMigrations)).to.equal(true)
  })
})
