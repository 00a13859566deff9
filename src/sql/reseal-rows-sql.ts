import { randomBytes } from 'node:crypto'
import { ValidationError } from '../errors/index.js'
import { quoteIdentifier, resealSql, type SqlFieldKeys } from './envelope-sql.js'
import type { CompiledStatement } from './prepared.js'

/** Where one table keeps a patient's envelopes. */
export interface EnvelopeTable {
  readonly table: string
  readonly columns: readonly string[]
  /** Column naming the patient (`id` for `patients` itself). */
  readonly patientColumn: string
  /** AAD prefix per column: `envelopeAad(table, column, …)` without the row id. */
  readonly aadPrefixes: Readonly<Record<string, Buffer>>
}

/**
 * One UPDATE that re-encrypts every envelope column of the given rows of one
 * patient, from `from` to `to` keys, each value under a fresh random IV bound as
 * a parameter (docs/envelope.md: IVs from crypto.randomBytes). The rows come as a
 * derived table of (id, iv per column) joined to the target.
 *
 * @example
 * UPDATE `clinical_records` AS `t`
 * JOIN (SELECT CAST(? AS BINARY) AS `id`, CAST(? AS BINARY) AS `iv_0`, … UNION ALL SELECT ?, ?, …) AS `v`
 *   ON `t`.`id` = `v`.`id`
 * SET `t`.`title_enc` = (…reseal with `v`.`iv_0`…), …
 * WHERE `t`.`patient_id` = ?
 */
export function resealRowsSql(
  spec: EnvelopeTable,
  patientId: Buffer,
  rowIds: readonly Buffer[],
  from: SqlFieldKeys,
  to: SqlFieldKeys,
): CompiledStatement {
  if (rowIds.length === 0) throw new ValidationError('rowIds', 'must not be empty')
  const ivNames = spec.columns.map((_, i) => `iv_${i}`)
  const first =
    `SELECT CAST(? AS BINARY) AS \`id\`, ` +
    ivNames.map((n) => `CAST(? AS BINARY) AS \`${n}\``).join(', ')
  const rest = `SELECT ?, ${ivNames.map(() => '?').join(', ')}`
  const values = [first, ...rowIds.slice(1).map(() => rest)].join(' UNION ALL ')
  const valueBindings = rowIds.flatMap((id) => [
    id,
    ...spec.columns.map(() => randomBytes(16)),
  ])

  const sets = spec.columns.map((column, i) =>
    resealSql(
      `t.${column}`,
      from,
      to,
      spec.aadPrefixes[column]!,
      't.id',
      `v.${ivNames[i]}`,
    ),
  )
  return {
    sql:
      `UPDATE ${quoteIdentifier(spec.table)} AS \`t\` JOIN (${values}) AS \`v\` ON \`t\`.\`id\` = \`v\`.\`id\` ` +
      `SET ${spec.columns.map((column, i) => `${quoteIdentifier(`t.${column}`)} = ${sets[i]!.sql}`).join(', ')} ` +
      `WHERE ${quoteIdentifier(`t.${spec.patientColumn}`)} = ?`,
    bindings: [...valueBindings, ...sets.flatMap((s) => s.bindings), patientId],
  }
}
