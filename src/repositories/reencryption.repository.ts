import type { Knex } from 'knex'
import { verifiedSql, type SqlFieldKeys } from '../sql/envelope-sql.js'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'
import { resealRowsSql, type EnvelopeTable } from '../sql/reseal-rows-sql.js'

/** Ids of the patient's rows in `spec.table` holding an envelope that does not verify under `keys`. */
export async function findUnverifiedRows(
  db: Executor,
  spec: EnvelopeTable,
  patientId: Buffer,
  keys: SqlFieldKeys,
): Promise<Buffer[]> {
  const checks = spec.columns.map((c) =>
    verifiedSql(`t.${c}`, keys, spec.aadPrefixes[c]!, 't.id'),
  )
  const rows = await selectRows<{ id: Buffer }>(
    db,
    db(`${spec.table} as t`)
      .select('t.id')
      .where(`t.${spec.patientColumn}`, patientId)
      .andWhere(
        db.raw(
          `NOT (${checks.map((c) => c.sql).join(' AND ')})`,
          checks.flatMap((c) => [...c.bindings]) as Knex.RawBinding[],
        ),
      ),
    'verify envelopes',
  )
  return rows.map((r) => r.id)
}

/** Re-encrypts the given rows (one statement); returns how many rows changed. */
export async function resealRows(
  db: Executor,
  spec: EnvelopeTable,
  patientId: Buffer,
  rowIds: readonly Buffer[],
  from: SqlFieldKeys,
  to: SqlFieldKeys,
): Promise<number> {
  const { affectedRows } = await executeWrite(
    db,
    resealRowsSql(spec, patientId, rowIds, from, to),
    're-encrypt rows',
  )
  return affectedRows
}
