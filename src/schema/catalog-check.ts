import type { Knex } from 'knex'
import { IntegrityError } from '../errors/index.js'
import { selectRows } from '../sql/prepared.js'
import type { CatalogEntry } from './catalog.js'
import type { TableDeclaration } from './define-table.js'
import {
  envelopeLookingColumns,
  storedColumns,
  type StoredColumn,
} from './envelope-columns.js'

/**
 * What a rotation checks before it trusts the catalog of declared tables. The
 * catalog is a table like any other: whoever can write the database can delete
 * an entry or point its patient column at another BINARY(16) column, and a
 * rotation that believed it would select none of the patient's rows there,
 * report success, and leave them under the key version whose seals it deletes.
 * Both are visible in the schema, which a data writer cannot change:
 *
 * - the patient column of every table is a foreign key to `patients(id)`
 *   (createEncryptedTable makes it; the chart's `patients` is its own patient);
 * - every envelope-looking column (binary, named `*_enc` or carrying the
 *   envelope CHECK) is covered by a declaration or a catalog entry.
 *
 * Either failing is an IntegrityError: the rotation (revoke, rotate-all) writes
 * nothing, and the doctor's declared_tables line says what to repair.
 */

/** `table.column` of each column that is a foreign key to `patients(id)`. */
export async function patientForeignKeys(db: Knex): Promise<Set<string>> {
  const rows = await selectRows<{ t: string; c: string }>(
    db,
    db('information_schema.KEY_COLUMN_USAGE')
      .select({ t: 'TABLE_NAME', c: 'COLUMN_NAME' })
      .whereRaw('TABLE_SCHEMA = DATABASE()')
      .whereRaw('REFERENCED_TABLE_SCHEMA = DATABASE()')
      .where({ REFERENCED_TABLE_NAME: 'patients', REFERENCED_COLUMN_NAME: 'id' }),
    'read the foreign keys to patients',
  )
  return new Set(rows.map((r) => `${r.t}.${r.c}`))
}

/** Catalog entries whose patient column is no foreign key to patients(id), as `table.column`. */
export function unlinkedPatientColumns(
  catalog: readonly CatalogEntry[],
  foreignKeys: ReadonlySet<string>,
): string[] {
  return catalog
    .filter((e) => !(e.table === 'patients' && e.patientColumn === 'id'))
    .filter((e) => !foreignKeys.has(`${e.table}.${e.patientColumn}`))
    .map((e) => `${e.table}.${e.patientColumn}`)
}

/** Envelope-looking columns that neither a declaration nor the catalog covers, as `table.column`. */
export async function uncoveredEnvelopeColumns(
  db: Knex,
  declarations: Iterable<TableDeclaration>,
  catalog: readonly CatalogEntry[],
  columns?: readonly StoredColumn[],
): Promise<string[]> {
  const covered = new Set([
    ...catalog.flatMap((e) => e.columns.map((c) => `${e.table}.${c}`)),
    ...[...declarations].flatMap((d) =>
      d.encryptedFields.map((f) => `${d.name}.${f.column}`),
    ),
  ])
  return (await envelopeLookingColumns(db, columns ?? (await storedColumns(db))))
    .map((c) => `${c.table}.${c.column}`)
    .filter((name) => !covered.has(name))
}

/** Throws an IntegrityError naming what the schema contradicts; names only, never data. */
export async function checkCatalogAgainstSchema(
  db: Knex,
  declarations: Iterable<TableDeclaration>,
  catalog: readonly CatalogEntry[],
): Promise<void> {
  const declared = new Map([...declarations].map((d) => [d.name, d]))
  for (const entry of catalog) {
    const decl = declared.get(entry.table)
    if (decl !== undefined && decl.patientColumn !== entry.patientColumn) {
      throw new IntegrityError(
        `the catalog of declared tables names ${entry.table}.${entry.patientColumn} as its patient column, ` +
          `the declaration ${decl.patientColumn}; rotation refused before writing`,
      )
    }
  }
  const [unlinked] = unlinkedPatientColumns(catalog, await patientForeignKeys(db))
  if (unlinked !== undefined) {
    throw new IntegrityError(
      `the catalog of declared tables names ${unlinked} as a patient column, ` +
        'but it is no foreign key to patients(id); rotation refused before writing',
    )
  }
  const uncovered = await uncoveredEnvelopeColumns(db, declared.values(), catalog)
  if (uncovered.length > 0) {
    throw new IntegrityError(
      `${uncovered.slice(0, 5).join(', ')} looks like it holds envelopes but no declaration ` +
        'or catalog entry covers it; rotation refused before writing (run the doctor)',
    )
  }
}
