import type { Knex } from 'knex'
import { CATALOG_TABLE, listCatalog } from '../schema/catalog.js'
import {
  patientForeignKeys,
  uncoveredEnvelopeColumns,
  unlinkedPatientColumns,
} from '../schema/catalog-check.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { storedColumns } from '../schema/envelope-columns.js'
import { line, type PostureCheck } from './doctor-check.js'

/**
 * Every envelope column is one rotation reaches. Rotation, revoke and rotate-all
 * walk the tables the code declares and the catalog of declared tables; a column
 * outside both keeps its values under a retired key version after a revoke, and
 * the revoke deletes the seals that could open them.
 *
 * - FAIL: a catalog entry names a table, patient column or envelope column the
 *   database lacks (rotation would stop there), or a patient column that is no
 *   foreign key to patients(id) (an edited entry; rotation refuses it).
 * - WARN: a binary column named `*_enc`, or carrying the envelope CHECK, that
 *   neither the catalog nor the declarations passed in cover; or a declared table
 *   that exists but is missing from the catalog (a revoke run from the command
 *   line or another application would not reach it).
 * - PASS otherwise. Names tables and columns only; reads information_schema and
 *   the catalog.
 */

export const DECLARED_TABLES = line(
  'declared_tables',
  'Envelope columns covered by declared tables',
)

const MIGRATE_FIX =
  'Run the migrations (emr-vault migrate, or migrateLatest(db)) with this release.'

/** At most this many names in a line; the rest are counted. */
const LISTED = 10

function list(names: readonly string[]): string {
  const shown = names.slice(0, LISTED).join(', ')
  return names.length > LISTED ? `${shown} and ${names.length - LISTED} more` : shown
}

export async function declaredTablesCheck(
  db: Knex,
  tables: readonly TableDeclaration[] = [],
): Promise<PostureCheck> {
  const check = DECLARED_TABLES
  if (!(await db.schema.hasTable(CATALOG_TABLE))) {
    return check.fail(`${CATALOG_TABLE} does not exist.`, MIGRATE_FIX)
  }
  const catalog = await listCatalog(db)
  const columns = await storedColumns(db)
  const present = new Set(columns.map((c) => `${c.table}.${c.column}`))
  const tablesPresent = new Set(columns.map((c) => c.table))

  const missing: string[] = []
  for (const entry of catalog) {
    if (!tablesPresent.has(entry.table)) {
      missing.push(entry.table)
      continue
    }
    for (const column of [entry.patientColumn, ...entry.columns]) {
      if (!present.has(`${entry.table}.${column}`))
        missing.push(`${entry.table}.${column}`)
    }
  }
  if (missing.length > 0) {
    return check.fail(
      `The catalog of declared tables names what the database lacks: ${list(missing)}. ` +
        'Rotation and revoke stop at it.',
      'Run the application migration that creates it, or, if it was dropped on purpose, ' +
        `remove its entry (dropEncryptedTable in a migration, or removeFromCatalog).`,
    )
  }

  // A patient column that is not the foreign key to patients(id) is an entry
  // edited to make rotation skip the table (schema/catalog-check.ts).
  const foreignKeys = await patientForeignKeys(db)
  const unlinked = unlinkedPatientColumns(catalog, foreignKeys)
  if (unlinked.length > 0) {
    return check.fail(
      `The catalog of declared tables names patient columns that are no foreign key to patients(id): ${list(unlinked)}. ` +
        'Rotation and revoke refuse to run past it.',
      'Compare the catalog with the application declarations: an edited entry is tampering; ' +
        'a table made without createEncryptedTable needs its foreign key to patients(id).',
    )
  }

  const uncovered = await uncoveredEnvelopeColumns(db, tables, catalog, columns)
  const catalogued = new Set(catalog.map((e) => e.table))
  const notCatalogued = tables
    .filter((t) => tablesPresent.has(t.name) && !catalogued.has(t.name))
    .map((t) => t.name)
  const found: string[] = []
  if (uncovered.length > 0) {
    found.push(
      `${uncovered.length} envelope-looking column(s) no declaration covers: ${list(uncovered)}; ` +
        'rotation and revoke do not reach them.',
    )
  }
  if (notCatalogued.length > 0) {
    found.push(
      `Declared here but not in the catalog: ${list(notCatalogued)}; a revoke run from ` +
        'the command line or another application would not reach them.',
    )
  }
  if (found.length > 0) {
    return check.warn(
      found.join(' '),
      'Declare each table (defineTable) and create or record it in a migration ' +
        '(createEncryptedTable, addEncryptedColumns, or recordInCatalog); rename a ' +
        'binary column that holds no envelope so it does not end in _enc.',
    )
  }
  const envelopeColumns = catalog.reduce((n, e) => n + e.columns.length, 0)
  return check.pass(
    `${catalog.length} declared table(s) with ${envelopeColumns} envelope column(s); ` +
      'every envelope-looking column is covered.',
  )
}
