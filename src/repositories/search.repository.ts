import type { Knex } from 'knex'
import type { TableDeclaration } from '../schema/define-table.js'
import type { DeclaredIndex } from '../schema/search-indexes.js'
import { selectRows, type Executor } from '../sql/prepared.js'
import { currentGrantsOfUser, GRANT_COLUMNS } from './patient-key.repository.js'
import type { PatientKeyGrantRow } from './patient-key.row.js'

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

/** A row stage one found, with the searching user's current grant for its patient, if any. */
export interface CandidateWithGrant extends CandidateRow {
  /** Null when the user holds no current grant for the row's patient. */
  grant: PatientKeyGrantRow | null
}

/**
 * Stage one and the grant lookup in one statement: the candidate rows, each
 * with the user's current grant for its patient (NULLs where there is none).
 *
 * SELECT t.id, t.<patient column> AS patient_id, g.key_version AS grant_key_version, …
 * FROM `t` AS t LEFT JOIN (<currentGrantsOfUser>) AS g ON g.patient_id = t.<patient column>
 * WHERE t.bidx_<index> IN (?, ?) ORDER BY t.id LIMIT ?
 */
export function candidatesWithGrantsQuery(
  db: Knex,
  decl: TableDeclaration,
  index: DeclaredIndex,
  values: readonly (Buffer | number)[],
  userId: Buffer,
  limit: number,
): Knex.QueryBuilder {
  return candidateRowsQuery(db, decl, index, values, limit)
    .leftJoin(
      currentGrantsOfUser(db, userId).as('g'),
      'g.patient_id',
      `t.${decl.patientColumn}`,
    )
    .select(GRANT_COLUMNS.map((c) => `g.${c} as grant_${c}`))
}

export async function findCandidatesWithGrants(
  db: Executor,
  decl: TableDeclaration,
  index: DeclaredIndex,
  values: readonly (Buffer | number)[],
  userId: Buffer,
  limit: number,
): Promise<CandidateWithGrant[]> {
  const rows = await selectRows<Record<string, unknown> & CandidateRow>(
    db,
    candidatesWithGrantsQuery(db as Knex, decl, index, values, userId, limit),
    `search ${decl.name}`,
  )
  return rows.map((row) => ({
    id: row.id,
    patient_id: row.patient_id,
    grant:
      row['grant_sealed_key'] == null
        ? null
        : (Object.fromEntries(
            GRANT_COLUMNS.map((c) => [c, row[`grant_${c}`]]),
          ) as unknown as PatientKeyGrantRow),
  }))
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
