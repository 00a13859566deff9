// The static migration list (src/migrations/index.ts) against the files beside
// it, and how rows of knex_migrations are told apart: emr-vault's under their old
// file names, unknown ones of emr-vault's form, and an application's own.
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { classifyLegacyRows } from '../../../src/db/legacy-migration-history.js'
import { migrationSource } from '../../../src/db/migration-source.js'
import { MIGRATIONS } from '../../../src/migrations/index.js'

const DIR = fileURLToPath(new URL('../../../src/migrations/', import.meta.url))
const rows = (...names: (string | null)[]) =>
  names.map((name, i) => ({ id: i + 1, name }))

describe('migration list', () => {
  it('names every migration file in src/migrations, in file order, without an extension', () => {
    const files = readdirSync(DIR)
      .filter((f) => f !== 'index.ts')
      .sort()
      .map((f) => f.replace(/\.ts$/, ''))
    expect(MIGRATIONS.map((m) => m.name)).to.deep.equal(files)
    expect(files).to.have.length(10)
    for (const { name, migration } of MIGRATIONS) {
      expect(name).to.match(/^\d{8}_\d{4}_[a-z0-9_]+$/)
      expect(migration.up, name).to.be.a('function')
      expect(migration.down, name).to.be.a('function')
    }
  })

  it('the knex source lists them by those names', async () => {
    const listed = await migrationSource.getMigrations([])
    expect(listed.map((m) => migrationSource.getMigrationName(m))).to.deep.equal(
      MIGRATIONS.map((m) => m.name),
    )
    expect(await migrationSource.getMigration(listed[1]!)).to.equal(
      MIGRATIONS[1]!.migration,
    )
  })
})

describe('knex_migrations rows of an earlier version', () => {
  it("takes emr-vault's rows under .ts or .js names and leaves an application's", () => {
    const legacy = classifyLegacyRows(
      rows(
        '20261129_0001_key_hierarchy.ts',
        '20240101093000_app_orders.js',
        '20261129_0002_audit_log.js',
        null,
        '20261129_0003_break_glass.d.ts',
      ),
    )
    expect(legacy).to.deep.equal({
      rows: [
        { id: 1, name: '20261129_0001_key_hierarchy' },
        { id: 3, name: '20261129_0002_audit_log' },
      ],
      unknown: [],
      duplicates: [],
    })
  })

  it('reports unknown names of emr-vault’s form, and names recorded twice, beside known ones', () => {
    const legacy = classifyLegacyRows(
      rows(
        '20261129_0001_key_hierarchy.ts',
        '20261129_0001_key_hierarchy.js',
        '20270101_0006_from_a_newer_release.ts',
      ),
    )
    expect(legacy.unknown).to.deep.equal(['20270101_0006_from_a_newer_release.ts'])
    expect(legacy.duplicates).to.deep.equal(['20261129_0001_key_hierarchy'])
  })

  it('counts names of that form as an application’s when none is emr-vault’s', () => {
    expect(
      classifyLegacyRows(
        rows('20250101_0001_app_orders.js', '20250101_0002_app_items.ts'),
      ),
    ).to.deep.equal({ rows: [], unknown: [], duplicates: [] })
  })
})
