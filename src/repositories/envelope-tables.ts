import { envelopeAad } from '../crypto/envelope.js'
import type { TableDeclaration } from '../schema/define-table.js'
import type { EnvelopeTable } from '../sql/reseal-rows-sql.js'

/** Where one table keeps a patient's envelopes, with each column's AAD prefix. */
export function envelopeTable(
  table: string,
  patientColumn: string,
  columns: readonly string[],
): EnvelopeTable {
  return {
    table,
    columns,
    patientColumn,
    aadPrefixes: Object.fromEntries(
      columns.map((c) => [c, envelopeAad(table, c, Buffer.alloc(16)).subarray(0, -16)]),
    ),
  }
}

/**
 * The envelope tables a rotation must re-encrypt: every declaration, joined
 * with what the database's catalog of declared tables lists (a table declared
 * only in another process, e.g. the application's, when the CLI revokes), each
 * table's columns the union of both. A rotation that missed one would leave its
 * values under a key version whose seals it deletes.
 */
export function envelopeTablesOf(
  declarations: Iterable<TableDeclaration>,
  catalog: readonly {
    table: string
    patientColumn: string
    columns: readonly string[]
  }[],
): EnvelopeTable[] {
  const byName = new Map<string, { patientColumn: string; columns: Set<string> }>()
  const add = (table: string, patientColumn: string, columns: readonly string[]) => {
    const entry = byName.get(table) ?? { patientColumn, columns: new Set<string>() }
    for (const c of columns) entry.columns.add(c)
    byName.set(table, entry)
  }
  for (const decl of declarations) {
    add(
      decl.name,
      decl.patientColumn,
      decl.encryptedFields.map((f) => f.column),
    )
  }
  for (const entry of catalog) add(entry.table, entry.patientColumn, entry.columns)
  return [...byName].map(([table, { patientColumn, columns }]) =>
    envelopeTable(table, patientColumn, [...columns].sort()),
  )
}
