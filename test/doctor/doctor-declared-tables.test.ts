import type { Knex } from 'knex'
import { expect } from 'chai'
import { createDb, migrateLatest } from '../../src/db/index.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import { runDoctor, type DoctorOptions } from '../../src/services/doctor.service.js'
import { withFreshDatabase } from '../support/fresh-database.js'
import { testDbConfig } from '../support/test-env.js'
import { check } from './doctor-support.js'

/**
 * The doctor's declared_tables line on databases of their own: every envelope
 * column covered by the catalog or the declarations passed in, binary `*_enc`
 * columns or envelope CHECKs outside both, and catalog entries the database lacks.
 */

const allergies = defineTable({
  name: 'allergies',
  encrypted: {
    substance: encrypted.text({ maxBytes: 200 }),
    reaction: encrypted.text({ maxBytes: 500, nullable: true }),
  },
})

async function withMigrated(body: (db: Knex) => Promise<void>): Promise<void> {
  await withFreshDatabase('emr_vault_doctor', async (database) => {
    const db = createDb({ ...testDbConfig(), database, poolMax: 2 })
    try {
      await migrateLatest(db)
      await body(db)
    } finally {
      await db.destroy()
    }
  })
}

async function line(db: Knex, options: DoctorOptions = {}) {
  return check(await runDoctor(db, { production: false, ...options }), 'declared_tables')
}

describe('doctor: envelope columns covered by declared tables', function () {
  this.timeout(30_000)

  it('PASSes a freshly migrated database, and one with a table made by createEncryptedTable', async () => {
    await withMigrated(async (db) => {
      expect(await line(db)).to.deep.equal({
        id: 'declared_tables',
        status: 'PASS',
        title: 'Envelope columns covered by declared tables',
        detail:
          '2 declared table(s) with 11 envelope column(s); every envelope-looking column is covered.',
      })
      await createEncryptedTable(db, allergies)
      expect((await line(db)).detail).to.equal(
        '3 declared table(s) with 13 envelope column(s); every envelope-looking column is covered.',
      )
    })
  })

  it('WARNs about a binary *_enc column no declaration covers, unless the declarations passed in cover it', async () => {
    await withMigrated(async (db) => {
      await db.raw(
        'CREATE TABLE allergies (id BINARY(16) PRIMARY KEY, substance_enc VARBINARY(261), ' +
          'reaction_enc BLOB, reaction_note VARCHAR(20), photo_enc VARCHAR(10))',
      )
      const warned = await line(db)
      expect(warned.status).to.equal('WARN')
      // A VARCHAR named *_enc holds no envelope; it is not reported.
      expect(warned.detail).to.equal(
        '2 envelope-looking column(s) no declaration covers: allergies.substance_enc, ' +
          'allergies.reaction_enc; rotation and revoke do not reach them.',
      )
      expect(warned.fix).to.match(/createEncryptedTable/)

      // Declared in code covers the columns, but a revoke run from elsewhere
      // reads only the catalog: still a WARN, now about the catalog.
      const declared = await line(db, { tables: [allergies] })
      expect(declared.status).to.equal('WARN')
      expect(declared.detail).to.equal(
        'Declared here but not in the catalog: allergies; a revoke run from the command ' +
          'line or another application would not reach them.',
      )
    })
  })

  it('WARNs about a column carrying the envelope CHECK whatever its name', async () => {
    await withMigrated(async (db) => {
      await db.raw(
        'CREATE TABLE scans (id BINARY(16) PRIMARY KEY, image MEDIUMBLOB, ' +
          'CONSTRAINT scans_image_env CHECK (image IS NULL OR (LENGTH(image) >= 69 ' +
          'AND (LENGTH(image) - 53) % 16 = 0 AND LEFT(image, 1) = 0x01)))',
      )
      const warned = await line(db)
      expect(warned.status).to.equal('WARN')
      expect(warned.detail).to.match(/^1 envelope-looking column\(s\) .*: scans\.image;/)
    })
  })

  it('FAILs when a catalog entry names a column or a table the database lacks', async () => {
    await withMigrated(async (db) => {
      await createEncryptedTable(db, allergies)
      await db.raw('ALTER TABLE allergies DROP CONSTRAINT allergies_reaction_enc_env')
      await db.raw('ALTER TABLE allergies DROP COLUMN reaction_enc')
      const failed = await line(db)
      expect(failed.status).to.equal('FAIL')
      expect(failed.detail).to.equal(
        'The catalog of declared tables names what the database lacks: allergies.reaction_enc. ' +
          'Rotation and revoke stop at it.',
      )
      await db.raw('DROP TABLE allergies')
      expect((await line(db)).detail).to.match(/lacks: allergies\. /)
    })
  })

  it('FAILs, without crashing the doctor, on a catalog row a migration would not write', async () => {
    await withMigrated(async (db) => {
      await db('emr_vault_declared_tables').insert({
        table_name: 'labs',
        patient_column: 'patient_id',
        encrypted_columns: 'not json',
      })
      const failed = await line(db)
      expect(failed.status).to.equal('FAIL')
      expect(failed.detail).to.equal(
        'Could not be checked: emr_vault_declared_tables row labs: encrypted_columns is not JSON.',
      )
    })
  })
})
