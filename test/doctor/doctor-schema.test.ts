import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import knex, { type Knex } from 'knex'
import { knexConfig } from '../../src/db/index.js'
import { runDoctor } from '../../src/services/doctor.service.js'
import { observerConnection, testDbConfig } from '../support/test-env.js'
import { check } from './doctor-support.js'

/** The real migrations directory, plus `extra` directories, on the test database. */
function dbWithMigrations(extra: string[], database = testDbConfig().database): Knex {
  const config = knexConfig({ ...testDbConfig(), database, poolMax: 2 })
  const migrations = config.migrations ?? {}
  const directory = migrations.directory as string
  return knex({
    ...config,
    migrations: { ...migrations, directory: [directory, ...extra] },
  })
}

describe('doctor: schema at the latest migration', () => {
  it('FAILs when this code has a migration the database has not run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'emr-vault-doctor-'))
    const name = '29991231_0001_doctor_pending_probe.ts'
    await writeFile(
      join(dir, name),
      'export async function up() {}\nexport async function down() {}\n',
    )
    const db = dbWithMigrations([dir])
    try {
      const line = check(await runDoctor(db, { production: false }), 'schema_version')
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.equal(`1 migration(s) pending: ${name}.`)
      expect(line.fix).to.match(/migrate/)
    } finally {
      await db.destroy()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('FAILs a database with no migration applied, and does not create knex_migrations there', async () => {
    const database = `emr_vault_doctor_${randomBytes(4).toString('hex')}`
    const admin = await observerConnection()
    await admin.query(`CREATE DATABASE \`${database}\``)
    const db = dbWithMigrations([], database)
    try {
      const line = check(await runDoctor(db, { production: false }), 'schema_version')
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.equal(
        'No migration has been applied (no knex_migrations table).',
      )
      const [tables] = (await admin.query(
        'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
        [database],
      )) as unknown as [unknown[]]
      expect(tables).to.deep.equal([])
    } finally {
      await db.destroy()
      await admin.query(`DROP DATABASE \`${database}\``)
      await admin.end()
    }
  })
})
