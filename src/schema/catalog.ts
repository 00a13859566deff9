import { IntegrityError } from '../errors/index.js'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import type { TableDeclaration } from './define-table.js'

/**
 * The catalog of declared tables (`emr_vault_declared_tables`, made by emr-vault's
 * migrations): every table holding envelopes, recorded in the database when its
 * migration creates it. Rotation, revoke and rotate-all walk it beside the tables
 * the running code declares, so a revoke run from the command line reaches an
 * application's tables too; one it missed would keep values under the retired key
 * version, whose seals the revoke deletes.
 */

export const CATALOG_TABLE = 'emr_vault_declared_tables'

export interface CatalogEntry {
  readonly table: string
  readonly patientColumn: string
  /** The table's envelope columns. */
  readonly columns: readonly string[]
}

interface CatalogRow {
  table_name: unknown
  patient_column: unknown
  encrypted_columns: unknown
}

/** What the catalog accepts as a name: what defineTable accepts. */
const NAME = /^[a-z][a-z0-9_]{0,63}$/

const isName = (value: unknown): value is string =>
  typeof value === 'string' && NAME.test(value)

/**
 * A row as an entry. Anyone who can write the table could put anything in it, and
 * its names end up in SQL text (quoted, after this check), so a row that is not
 * what a migration writes is refused whole. The message names the rule, and the
 * table only once it is known to be a name.
 */
function toEntry(row: CatalogRow): CatalogEntry {
  const where = isName(row.table_name)
    ? `${CATALOG_TABLE} row ${row.table_name}`
    : `a ${CATALOG_TABLE} row`
  if (!isName(row.table_name) || !isName(row.patient_column)) {
    throw new IntegrityError(`${where}: a table or patient column that is not a name`)
  }
  let columns: unknown
  try {
    columns = JSON.parse(String(row.encrypted_columns))
  } catch {
    throw new IntegrityError(`${where}: encrypted_columns is not JSON`)
  }
  if (
    !Array.isArray(columns) ||
    columns.length === 0 ||
    !columns.every(isName) ||
    new Set(columns).size !== columns.length
  ) {
    throw new IntegrityError(
      `${where}: encrypted_columns must be a non-empty JSON array of distinct column names`,
    )
  }
  return {
    table: row.table_name,
    patientColumn: row.patient_column,
    columns: Object.freeze([...columns]),
  }
}

/**
 * Every declared table the database records, by table name.
 *
 * `SELECT table_name, patient_column, encrypted_columns FROM emr_vault_declared_tables ORDER BY table_name`
 *
 * @throws IntegrityError for a row a migration would not have written
 */
export async function listCatalog(db: Executor): Promise<CatalogEntry[]> {
  const rows = await selectRows<CatalogRow>(
    db,
    db(CATALOG_TABLE)
      .select('table_name', 'patient_column', 'encrypted_columns')
      .orderBy('table_name'),
    'read the catalog of declared tables',
  )
  return rows.map(toEntry)
}

/**
 * Records a table with the given envelope columns, replacing what was recorded.
 *
 * `INSERT INTO emr_vault_declared_tables (table_name, patient_column, encrypted_columns)
 *  VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE patient_column = ?, encrypted_columns = ?`
 */
export async function recordTable(db: Executor, entry: CatalogEntry): Promise<void> {
  const values = {
    patient_column: entry.patientColumn,
    encrypted_columns: JSON.stringify(entry.columns),
  }
  await executeWrite(
    db,
    db(CATALOG_TABLE)
      .insert({ table_name: entry.table, ...values })
      .onConflict('table_name')
      .merge(values),
    'record a declared table',
  )
}

/** Records a declared table and its envelope columns (upsert). */
export async function recordInCatalog(
  db: Executor,
  decl: TableDeclaration,
): Promise<void> {
  await recordTable(db, {
    table: decl.name,
    patientColumn: decl.patientColumn,
    columns: decl.encryptedFields.map((f) => f.column),
  })
}

/**
 * Forgets a table (after it is dropped).
 *
 * `DELETE FROM emr_vault_declared_tables WHERE table_name = ?`
 */
export async function removeFromCatalog(db: Executor, tableName: string): Promise<void> {
  await executeWrite(
    db,
    db(CATALOG_TABLE).where({ table_name: tableName }).delete(),
    'remove a declared table',
  )
}
