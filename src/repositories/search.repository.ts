import type { Knex } from 'knex'
import type { TableDeclaration } from '../schema/define-table.js'
import type { DeclaredIndex } from '../schema/search-indexes.js'
import { selectRows, type Executor } from '../sql/prepared.js'

/** A row an index lookup found: its id and its patient's. */
export interface CandidateRow {
  id: Buffer
  patient_id: Buffer
}

/**
 * Stage one of a search: the rows whose index column holds one of `values`
 * (the searched value under the current search key, and under the previous
 * one while a rotation rebuilds the indexes).
 *
 * SELECT t.id, t.<patient column> AS patient_id FROM `t` AS t
 * WHERE t.bidx_<index> IN (?, ?) ORDER BY t.id LIMIT ?
 */
export function candidateRowsQuery(
  db: Knex,
  decl: TableDeclaration,
  index: DeclaredIndex,
  values: readonly (Buffer | number)[],
  limit: number,
): Knex.QueryBuilder {
  return db(`${decl.name} as t`)
    .select('t.id', `t.${decl.patientColumn} as patient_id`)
    .whereIn(`t.${index.column}`, [...values])
    .orderBy('t.id')
    .limit(limit)
}

export function findCandidateRows(
  db: Executor,
  decl: TableDeclaration,
  index: DeclaredIndex,
  values: readonly (Buffer | number)[],
  limit: number,
): Promise<CandidateRow[]> {
  return selectRows<CandidateRow>(
    db,
    candidateRowsQuery(db as Knex, decl, index, values, limit),
    `search ${decl.name}`,
  )
}

/**
 * How many audit rows of `action` the user has in the last `windowMs`, on
 * every instance (the per-user search limit). The clock is the server's, as
 * `occurred_at` is (SYSDATE when the row was appended).
 *
 * SELECT COUNT(*) AS n, MIN(occurred_at) AS oldest, SYSDATE(3) AS now FROM audit_log
 * WHERE actor_user_id = ? AND action = ? AND occurred_at > SYSDATE(3) - INTERVAL ? MICROSECOND
 */
export async function countRecentActs(
  db: Executor,
  auditTable: string,
  actorUserId: Buffer,
  action: string,
  windowMs: number,
): Promise<{ count: number; oldest: Date | null; now: Date }> {
  const k = db as Knex
  const [row] = await selectRows<{ n: number | string; oldest: Date | null; now: Date }>(
    db,
    k(auditTable)
      .select(
        k.raw('COUNT(*) AS n'),
        k.raw('MIN(occurred_at) AS oldest'),
        k.raw('SYSDATE(3) AS now'),
      )
      .where({ actor_user_id: actorUserId, action })
      .where(
        'occurred_at',
        '>',
        k.raw('SYSDATE(3) - INTERVAL ? MICROSECOND', [windowMs * 1000]),
      ),
    'count recent acts',
  )
  return {
    count: Number(row?.n ?? 0),
    oldest: row?.oldest ?? null,
    now: row?.now ?? new Date(),
  }
}
