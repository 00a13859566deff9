import type { Knex } from 'knex'
import { parseServerVersion } from '../db/index.js'
import { selectRows } from '../sql/prepared.js'

/**
 * What the database itself says about envelope columns, declared or not: which
 * server enforces CHECK constraints, and which columns look like they hold
 * envelopes (binary, named `*_enc` or carrying the envelope CHECK that
 * createEncryptedTable writes). Reads information_schema of the current database.
 */

export interface StoredColumn {
  readonly table: string
  readonly column: string
  /** information_schema DATA_TYPE, lower case: `varbinary`, `blob`, … */
  readonly dataType: string
}

/** Where an envelope can be stored. */
const BINARY_TYPES = new Set(['varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'])

/**
 * The column of an envelope CHECK, as each server writes the clause back:
 * MySQL 9.7 `((length(`c`) - 53) % 16) = 0`, MariaDB 11.8 `(octet_length(`c`) - 53) MOD 16 = 0`.
 */
const ENVELOPE_CLAUSE =
  /\(\s*(?:octet_)?length\(`([a-z0-9_]+)`\)\s*-\s*53\s*\)\s*(?:%|mod)\s*16/i

async function serverVersion(db: Knex) {
  const [row] = await selectRows<{ v: string }>(
    db,
    db.select(db.raw('VERSION() AS v')),
    'read the server version',
  )
  return parseServerVersion(row?.v ?? '')
}

function enforcesChecks(v: ReturnType<typeof parseServerVersion>): boolean {
  return (
    v.flavour === 'mariadb' ||
    v.major > 8 ||
    (v.major === 8 && (v.minor > 0 || v.patch >= 16))
  )
}

/** MySQL enforces CHECK constraints from 8.0.16 (before, it parses and ignores them); MariaDB does. */
export async function serverEnforcesChecks(db: Knex): Promise<boolean> {
  return enforcesChecks(await serverVersion(db))
}

/** Every column of the current database. */
export async function storedColumns(db: Knex): Promise<StoredColumn[]> {
  const rows = await selectRows<{ t: string; c: string; d: string }>(
    db,
    db('information_schema.COLUMNS')
      .select({ t: 'TABLE_NAME', c: 'COLUMN_NAME', d: 'DATA_TYPE' })
      .whereRaw('TABLE_SCHEMA = DATABASE()')
      .orderBy(['TABLE_NAME', 'ORDINAL_POSITION']),
    'read the columns of the database',
  )
  return rows.map((r) => ({
    table: r.t,
    column: r.c,
    dataType: String(r.d).toLowerCase(),
  }))
}

/** `table.column` of every column carrying an envelope CHECK. */
async function envelopeCheckedColumns(db: Knex): Promise<Set<string>> {
  const v = await serverVersion(db)
  if (!enforcesChecks(v)) return new Set()
  // MariaDB keeps CHECK names per table and says which table; MySQL keeps them per
  // database and says it only in TABLE_CONSTRAINTS.
  const statement =
    v.flavour === 'mariadb'
      ? db('information_schema.CHECK_CONSTRAINTS')
          .select({ t: 'TABLE_NAME', clause: 'CHECK_CLAUSE' })
          .whereRaw('CONSTRAINT_SCHEMA = DATABASE()')
      : db('information_schema.TABLE_CONSTRAINTS as tc')
          .join('information_schema.CHECK_CONSTRAINTS as cc', function () {
            this.on('cc.CONSTRAINT_SCHEMA', 'tc.CONSTRAINT_SCHEMA').andOn(
              'cc.CONSTRAINT_NAME',
              'tc.CONSTRAINT_NAME',
            )
          })
          .select({ t: 'tc.TABLE_NAME', clause: 'cc.CHECK_CLAUSE' })
          .where('tc.CONSTRAINT_TYPE', 'CHECK')
          .whereRaw('tc.TABLE_SCHEMA = DATABASE()')
  const rows = await selectRows<{ t: string; clause: string }>(
    db,
    statement,
    'read the CHECK constraints of the database',
  )
  const found = new Set<string>()
  for (const row of rows) {
    const column = ENVELOPE_CLAUSE.exec(String(row.clause))?.[1]
    if (column !== undefined) found.add(`${row.t}.${column}`)
  }
  return found
}

/** Binary columns named `*_enc` or carrying the envelope CHECK. */
export async function envelopeLookingColumns(
  db: Knex,
  columns: readonly StoredColumn[],
): Promise<StoredColumn[]> {
  const checked = await envelopeCheckedColumns(db)
  return columns.filter(
    (c) =>
      BINARY_TYPES.has(c.dataType) &&
      (c.column.endsWith('_enc') || checked.has(`${c.table}.${c.column}`)),
  )
}
