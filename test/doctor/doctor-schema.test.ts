import { expect } from 'chai'
import { createDb, migrateLatest } from '../../src/db/index.js'
import { runDoctor } from '../../src/services/doctor.service.js'
import { withFreshDatabase } from '../support/fresh-database.js'
import { observerConnection, testDbConfig } from '../support/test-env.js'
import { check } from './doctor-support.js'

async function schemaLine(database: string) {
  const db = createDb({ ...testDbConfig(), database, poolMax: 2 })
  try {
    return check(await runDoctor(db, { production: false }), 'schema_version')
  } finally {
    await db.destroy()
  }
}

/** Migrates `database` to the latest migration. */
async function migrate(database: string): Promise<void> {
  const db = createDb({ ...testDbConfig(), database, poolMax: 2 })
  try {
    await migrateLatest(db)
  } finally {
    await db.destroy()
  }
}

async function tablesOf(database: string): Promise<string[]> {
  const admin = await observerConnection()
  try {
    const [rows] = (await admin.query(
      'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1',
      [database],
    )) as unknown as [{ t: string }[]]
    return rows.map((r) => r.t)
  } finally {
    await admin.end()
  }
}

describe('doctor: schema at the latest migration', () => {
  it('PASSes a database at the latest migration', async () => {
    await withFreshDatabase('emr_vault_doctor', async (database) => {
      await migrate(database)
      const line = await schemaLine(database)
      expect(line.status).to.equal('PASS')
      expect(line.detail).to.equal(
        '10 migrations applied, none pending; latest 20261203_0007_patient_search_indexes.',
      )
    })
  })

  it('FAILs when this code has a migration the database has not run', async () => {
    await withFreshDatabase('emr_vault_doctor', async (database) => {
      await migrate(database)
      const admin = await observerConnection()
      try {
        await admin.query(
          `DELETE FROM \`${database}\`.emr_vault_migrations WHERE name = ?`,
          ['20261202_0006_chart_state'],
        )
      } finally {
        await admin.end()
      }
      const line = await schemaLine(database)
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.equal('1 migration(s) pending: 20261202_0006_chart_state.')
      expect(line.fix).to.match(/migrate/)
    })
  })

  it('FAILs when the database records a migration this code does not know', async () => {
    await withFreshDatabase('emr_vault_doctor', async (database) => {
      await migrate(database)
      const admin = await observerConnection()
      try {
        await admin.query(
          `INSERT INTO \`${database}\`.emr_vault_migrations (name, batch, migration_time) VALUES (?, 2, NOW())`,
          ['20270101_0006_from_a_newer_release'],
        )
      } finally {
        await admin.end()
      }
      const line = await schemaLine(database)
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.include('(20270101_0006_from_a_newer_release)')
      expect(line.fix).to.match(/older than the schema/)
    })
  })

  it('FAILs a database with no migration applied, and creates no table there', async () => {
    await withFreshDatabase('emr_vault_doctor', async (database) => {
      const line = await schemaLine(database)
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.equal(
        'No migration has been applied (no emr-vault history).',
      )
      expect(await tablesOf(database)).to.deep.equal([])
    })
  })
})
