import type { Knex } from 'knex'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'

const RUNS = 'emr_vault_search_index_runs'

export interface SearchIndexRunRow {
  key_fingerprint: Buffer
  last_patient_id: Buffer | null
  patients: number
  started_at: Date
  finished_at: Date | null
}

/**
 * The rebuild under one search key, created if it has not started.
 *
 * INSERT IGNORE INTO emr_vault_search_index_runs (key_fingerprint, started_at) VALUES (?, SYSDATE(3));
 * SELECT * FROM emr_vault_search_index_runs WHERE key_fingerprint = ?
 */
export async function startIndexRun(
  db: Executor,
  fingerprint: Buffer,
): Promise<SearchIndexRunRow> {
  const k = db as Knex
  await executeWrite(
    db,
    k(RUNS)
      .insert({ key_fingerprint: fingerprint, started_at: k.raw('SYSDATE(3)') })
      .onConflict('key_fingerprint')
      .ignore(),
    'start search index run',
  )
  const [row] = await selectRows<SearchIndexRunRow>(
    db,
    k(RUNS).select('*').where({ key_fingerprint: fingerprint }),
    'read search index run',
  )
  return row!
}

/**
 * A patient done, in the patient's own transaction: a rebuild stopped after
 * it resumes at the next one.
 *
 * UPDATE emr_vault_search_index_runs SET last_patient_id = ?, patients = patients + 1 WHERE key_fingerprint = ?
 */
export async function advanceIndexRun(
  db: Executor,
  fingerprint: Buffer,
  patientId: Buffer,
): Promise<void> {
  const k = db as Knex
  await executeWrite(
    db,
    k(RUNS)
      .update({ last_patient_id: patientId, patients: k.raw('patients + 1') })
      .where({ key_fingerprint: fingerprint }),
    'advance search index run',
  )
}

/** UPDATE emr_vault_search_index_runs SET finished_at = SYSDATE(3) WHERE key_fingerprint = ? */
export async function finishIndexRun(db: Executor, fingerprint: Buffer): Promise<void> {
  const k = db as Knex
  await executeWrite(
    db,
    k(RUNS)
      .update({ finished_at: k.raw('SYSDATE(3)') })
      .where({ key_fingerprint: fingerprint }),
    'finish search index run',
  )
}

/** SELECT id FROM patients WHERE id > ? ORDER BY id LIMIT ? */
export async function listPatientsAfter(
  db: Executor,
  after: Buffer,
  limit: number,
): Promise<Buffer[]> {
  const rows = await selectRows<{ id: Buffer }>(
    db,
    (db as Knex)('patients')
      .select('id')
      .where('id', '>', after)
      .orderBy('id')
      .limit(limit),
    'list patients',
  )
  return rows.map((r) => r.id)
}

/** SELECT COUNT(*) FROM patients WHERE id > ? */
export async function countPatientsAfter(db: Executor, after: Buffer): Promise<number> {
  const [row] = await selectRows<{ n: number | string }>(
    db,
    (db as Knex)('patients').count({ n: '*' }).where('id', '>', after),
    'count patients',
  )
  return Number(row?.n ?? 0)
}

/**
 * Sets a row's index columns.
 *
 * UPDATE `t` SET `bidx_a` = ?, `bidx_b` = ? WHERE id = ? AND <patient column> = ?
 */
export async function setIndexColumns(
  db: Executor,
  table: string,
  patientColumn: string,
  id: Buffer,
  patientId: Buffer,
  columns: Record<string, Buffer | number | null>,
): Promise<void> {
  const where = patientColumn === 'id' ? { id } : { id, [patientColumn]: patientId }
  await executeWrite(
    db,
    (db as Knex)(table).update(columns).where(where),
    `index ${table}`,
  )
}
