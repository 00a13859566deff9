import type { Knex } from 'knex'
import { ConfigurationError, ValidationError } from '../errors/index.js'
import { selectRows } from '../sql/prepared.js'
import { quoteIdentifier } from '../sql/envelope-sql.js'
import {
  CATALOG_TABLE,
  listCatalog,
  recordInCatalog,
  recordTable,
  removeFromCatalog,
} from './catalog.js'
import { columnTypeSql, ddlName, tableColumnsDdl, type ColumnDdl } from './column-ddl.js'
import type { TableDeclaration } from './define-table.js'
import type { DeclaredIndex } from './search-indexes.js'

/**
 * Helpers for an application's own knex migrations, so that a table and its
 * declaration are made from one source:
 *
 * @example
 * export const up = (knex: Knex) => createEncryptedTable(knex, medications)
 * export const down = (knex: Knex) => dropEncryptedTable(knex, medications)
 *
 * Run emr-vault's migrations first (the catalog and `patients` must exist). The
 * catalog is written before a table or column is created and cleared only after a
 * table is dropped: DDL is not transactional in MySQL, and if a step fails half-way
 * the catalog then names too much, which rotation and the doctor report, never too
 * little, which a revoke would silently skip.
 */

function addColumn(
  t: Knex.CreateTableBuilder | Knex.AlterTableBuilder,
  ddl: ColumnDdl,
  knex: Knex,
): void {
  const column = t.specificType(ddl.column, columnTypeSql(ddl))
  if (ddl.nullable) column.nullable()
  else column.notNullable()
  if (ddl.role === 'timestamp') column.defaultTo(knex.fn.now(3))
  if (ddl.role === 'id') column.primary()
  for (const check of ddl.checks)
    t.check(check.sql, undefined, quoteIdentifier(check.name))
}

/** The KEY of a search index's column (UNIQUE for a unique exact index). */
function addIndexKey(
  t: Knex.CreateTableBuilder | Knex.AlterTableBuilder,
  table: string,
  index: DeclaredIndex,
): void {
  const name = ddlName(table, index.column)
  if (index.unique) t.unique([index.column], { indexName: name })
  else t.index([index.column], name)
}

async function requireCatalog(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable(CATALOG_TABLE))) {
    throw new ConfigurationError(
      `${CATALOG_TABLE} does not exist: run emr-vault's migrations (emr-vault migrate, or migrateLatest(db)) before the application's`,
    )
  }
}

/**
 * Creates a declared table and records it in the catalog:
 *
 * ```sql
 * CREATE TABLE `medications` (
 *   `id` BINARY(16) NOT NULL PRIMARY KEY,
 *   `patient_id` BINARY(16) NOT NULL,
 *   `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
 *   `updated_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
 *   `drug_enc` VARBINARY(261) NOT NULL,          -- encrypted.text({ maxBytes: 200 })
 *   `status` VARCHAR(7) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
 *   CONSTRAINT `medications_drug_enc_env` CHECK (`drug_enc` IS NULL OR (LENGTH(`drug_enc`) >= 69
 *     AND (LENGTH(`drug_enc`) - 53) % 16 = 0 AND LEFT(`drug_enc`, 1) = 0x01)),
 *   CONSTRAINT `medications_status_in` CHECK (`status` IN ('active', 'stopped'))
 * ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
 * ALTER TABLE `medications` ADD CONSTRAINT `medications_patient_id_foreign`
 *   FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`);
 * ALTER TABLE `medications` ADD INDEX `medications_by_patient` (`patient_id`, `created_at`, `id`);
 * -- per search index: `bidx_<name>` BINARY(16) (exact) or INT UNSIGNED (coarse), NULL,
 * ALTER TABLE `medications` ADD INDEX `medications_bidx_<name>` (`bidx_<name>`);  -- UNIQUE when unique
 * ```
 *
 * Every patient-owned row is keyed by patient first: the repository reads one
 * patient's rows at a time, newest first, and a sharded deployment splits by it.
 *
 * @param extend - adds what the declaration does not say (indexes, foreign keys on
 *   plain columns). A column added here is not declared: describeTableDrift reports it.
 */
export async function createEncryptedTable(
  knex: Knex,
  decl: TableDeclaration,
  extend?: (t: Knex.CreateTableBuilder) => void,
): Promise<void> {
  const columns = tableColumnsDdl(decl)
  await requireCatalog(knex)
  await recordInCatalog(knex, decl)
  await knex.schema.createTable(decl.name, (t) => {
    t.engine('InnoDB')
    t.charset('utf8mb4')
    t.collate('utf8mb4_bin')
    for (const ddl of columns) addColumn(t, ddl, knex)
    if (decl.patientColumn !== 'id') {
      t.foreign(decl.patientColumn, ddlName(decl.name, decl.patientColumn, 'foreign'))
        .references('id')
        .inTable('patients')
      t.index([decl.patientColumn, 'created_at', 'id'], ddlName(decl.name, 'by_patient'))
    }
    for (const index of decl.indexes) addIndexKey(t, decl.name, index)
    extend?.(t)
  })
}

/**
 * Drops a declared table and then forgets it in the catalog. All its rows are gone.
 *
 * ```sql
 * DROP TABLE IF EXISTS `medications`;
 * DELETE FROM emr_vault_declared_tables WHERE table_name = ?;
 * ```
 */
export async function dropEncryptedTable(
  knex: Knex,
  decl: TableDeclaration,
): Promise<void> {
  quoteIdentifier(decl.name)
  await knex.schema.dropTableIfExists(decl.name)
  await removeFromCatalog(knex, decl.name)
}

/**
 * Adds declared fields to an existing table, for a later migration: `decl` is the
 * declaration with the new fields, `fieldNames` the fields this migration adds
 * (encrypted or plain), or search indexes by name (their column and KEY; rows
 * already there are not indexed until rebuilt). A field whose column already exists is not added again,
 * so old migrations replayed on a new database against today's declaration
 * (which createEncryptedTable already made whole) still run; its envelope column
 * is recorded in the catalog all the same, which is how a table made before its
 * declaration joins it. Envelope columns are recorded before the DDL runs.
 *
 * ```sql
 * ALTER TABLE `medications` ADD `dose_enc` VARBINARY(85) NULL;
 * ALTER TABLE `medications` ADD CONSTRAINT `medications_dose_enc_env` CHECK (…);
 * ```
 *
 * @throws ValidationError for a field the declaration does not have, or a field
 *   that may not be null added to a table that has rows (they would have no value:
 *   add it nullable, fill it, then make it required)
 */
export async function addEncryptedColumns(
  knex: Knex,
  decl: TableDeclaration,
  fieldNames: readonly string[],
): Promise<void> {
  const all = tableColumnsDdl(decl)
  const wanted = fieldNames.map((name) => {
    const ddl = all.find((c) => c.field === name)
    if (ddl === undefined) {
      throw new ValidationError(name, `is not a field of the declaration of ${decl.name}`)
    }
    return ddl
  })
  await requireCatalog(knex)
  const existing = new Set(await tableColumns(knex, decl.name))
  if (existing.size === 0) {
    throw new ValidationError(
      'table',
      `${decl.name} does not exist: create it with createEncryptedTable`,
    )
  }
  const added = wanted.filter((c) => !existing.has(c.column))
  const required = added.find((c) => !c.nullable)
  if (required !== undefined && (await hasRows(knex, decl.name))) {
    throw new ValidationError(
      required.field!,
      'may not be null, and the table has rows with no value for it: add it as nullable, fill it, then make it required',
    )
  }
  const recorded = (await listCatalog(knex)).find((e) => e.table === decl.name)
  const envelopes = new Set([
    ...(recorded?.columns ?? []),
    ...all
      .filter((c) => c.role === 'encrypted' && existing.has(c.column))
      .map((c) => c.column),
    ...added.filter((c) => c.role === 'encrypted').map((c) => c.column),
  ])
  await recordTable(knex, {
    table: decl.name,
    patientColumn: decl.patientColumn,
    columns: [...envelopes],
  })
  // Columns that all exist are still recorded: that is how a table made before
  // its declaration (one being converted) joins the catalog.
  if (added.length === 0) return
  await knex.schema.alterTable(decl.name, (t) => {
    for (const ddl of added) addColumn(t, ddl, knex)
    for (const index of decl.indexes) {
      if (added.some((c) => c.column === index.column)) addIndexKey(t, decl.name, index)
    }
  })
}

/** The columns a table of the current database has (none when it does not exist). */
export async function tableColumns(knex: Knex, table: string): Promise<string[]> {
  const rows = await selectRows<{ name: string }>(
    knex,
    knex('information_schema.COLUMNS')
      .select({ name: 'COLUMN_NAME' })
      .where({ TABLE_NAME: table })
      .whereRaw('TABLE_SCHEMA = DATABASE()'),
    'read the columns of a declared table',
  )
  return rows.map((r) => r.name)
}

async function hasRows(knex: Knex, table: string): Promise<boolean> {
  const rows = await selectRows(
    knex,
    knex(table).select(knex.raw('1 AS found')).limit(1),
    'look for rows of a declared table',
  )
  return rows.length > 0
}
