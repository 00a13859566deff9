import type { Knex } from 'knex'
import { selectRows } from '../sql/prepared.js'
import { listCatalog } from './catalog.js'
import { tableColumnsDdl, type ColumnDdl } from './column-ddl.js'
import { serverEnforcesChecks } from './envelope-columns.js'
import type { TableDeclaration } from './define-table.js'

/**
 * Where a table in the database differs from its declaration, so a test (or a
 * start-up check) can catch a migration and a declaration that drifted apart.
 * Problems name tables, columns, types and constraints only.
 */

export type DriftKind =
  | 'missing-table'
  | 'missing-column'
  | 'extra-column'
  | 'wrong-type'
  | 'wrong-nullability'
  | 'wrong-collation'
  | 'missing-check'
  | 'missing-catalog-entry'
  | 'catalog-differs'

export interface DriftProblem {
  readonly kind: DriftKind
  readonly table: string
  readonly column?: string
  /** What was expected and what was found, e.g. `expected varbinary(1093), found blob`. */
  readonly detail: string
}

interface ColumnRow {
  name: string
  type: string
  nullable: string
  collation: string | null
}

/** COLUMN_TYPE without integer display widths, which MariaDB writes and MySQL does not. */
function normalType(type: string): string {
  const t = type.toLowerCase()
  return t === 'tinyint(1)'
    ? t
    : t.replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/, '$1')
}

function compareColumn(table: string, want: ColumnDdl, found: ColumnRow): DriftProblem[] {
  const problems: DriftProblem[] = []
  const at = { table, column: want.column }
  const type = normalType(found.type)
  if (type !== want.type) {
    problems.push({
      kind: 'wrong-type',
      ...at,
      detail: `expected ${want.type}, found ${type}`,
    })
  }
  const nullable = found.nullable === 'YES'
  if (nullable !== want.nullable) {
    const say = (n: boolean) => (n ? 'NULL' : 'NOT NULL')
    problems.push({
      kind: 'wrong-nullability',
      ...at,
      detail: `expected ${say(want.nullable)}, found ${say(nullable)}`,
    })
  }
  if (want.collation !== undefined && found.collation !== want.collation) {
    problems.push({
      kind: 'wrong-collation',
      ...at,
      detail: `expected ${want.collation}, found ${found.collation ?? 'none'}`,
    })
  }
  return problems
}

/**
 * Compares the table of `decl` in the current database with the declaration:
 * each column's type, size, nullability and (text) collation; columns missing or
 * not declared (a plaintext column under conversion, `convertingFrom`, is
 * allowed); the envelope and enum CHECK constraints, where the server enforces
 * them; and the catalog entry. An empty list means they agree.
 */
export async function describeTableDrift(
  knex: Knex,
  decl: TableDeclaration,
): Promise<DriftProblem[]> {
  const table = decl.name
  const expected = tableColumnsDdl(decl)
  const rows = await selectRows<ColumnRow>(
    knex,
    knex('information_schema.COLUMNS')
      .select({
        name: 'COLUMN_NAME',
        type: 'COLUMN_TYPE',
        nullable: 'IS_NULLABLE',
        collation: 'COLLATION_NAME',
      })
      .where({ TABLE_NAME: table })
      .whereRaw('TABLE_SCHEMA = DATABASE()')
      .orderBy('ORDINAL_POSITION'),
    'read the columns of a declared table',
  )
  const problems: DriftProblem[] = []
  if (rows.length === 0) {
    problems.push({ kind: 'missing-table', table, detail: 'the table does not exist' })
  } else {
    const found = new Map(rows.map((r) => [r.name, r]))
    for (const want of expected) {
      const row = found.get(want.column)
      if (row === undefined) {
        problems.push({
          kind: 'missing-column',
          table,
          column: want.column,
          detail: `expected ${want.type}`,
        })
      } else {
        problems.push(...compareColumn(table, want, row))
      }
    }
    const known = new Set([
      ...expected.map((c) => c.column),
      ...Object.values(decl.convertingFrom),
    ])
    for (const row of rows) {
      if (!known.has(row.name)) {
        problems.push({
          kind: 'extra-column',
          table,
          column: row.name,
          detail: `${normalType(row.type)} is not declared`,
        })
      }
    }
    if (await serverEnforcesChecks(knex))
      problems.push(...(await missingChecks(knex, table, expected)))
  }
  problems.push(...(await catalogDrift(knex, decl)))
  return problems
}

async function missingChecks(
  knex: Knex,
  table: string,
  expected: readonly ColumnDdl[],
): Promise<DriftProblem[]> {
  const rows = await selectRows<{ name: string }>(
    knex,
    knex('information_schema.TABLE_CONSTRAINTS')
      .select({ name: 'CONSTRAINT_NAME' })
      .where({ TABLE_NAME: table, CONSTRAINT_TYPE: 'CHECK' })
      .whereRaw('TABLE_SCHEMA = DATABASE()'),
    'read the constraints of a declared table',
  )
  const present = new Set(rows.map((r) => r.name))
  return expected.flatMap((c) =>
    c.checks
      .filter((check) => !present.has(check.name))
      .map((check) => ({
        kind: 'missing-check' as const,
        table,
        column: c.column,
        detail: `no CHECK constraint ${check.name}`,
      })),
  )
}

async function catalogDrift(knex: Knex, decl: TableDeclaration): Promise<DriftProblem[]> {
  const table = decl.name
  const entry = (await listCatalog(knex)).find((e) => e.table === table)
  if (entry === undefined) {
    return [
      {
        kind: 'missing-catalog-entry',
        table,
        detail:
          'not in emr_vault_declared_tables: a revoke run elsewhere would not reach it',
      },
    ]
  }
  const problems: DriftProblem[] = []
  if (entry.patientColumn !== decl.patientColumn) {
    problems.push({
      kind: 'catalog-differs',
      table,
      column: decl.patientColumn,
      detail: `the catalog names patient column ${entry.patientColumn}`,
    })
  }
  const declared = decl.encryptedFields.map((f) => f.column)
  for (const column of declared.filter((c) => !entry.columns.includes(c))) {
    problems.push({
      kind: 'catalog-differs',
      table,
      column,
      detail: 'declared but not in the catalog',
    })
  }
  for (const column of entry.columns.filter((c) => !declared.includes(c))) {
    problems.push({
      kind: 'catalog-differs',
      table,
      column,
      detail: 'in the catalog but not declared',
    })
  }
  return problems
}
