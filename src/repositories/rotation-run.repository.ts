import type { Knex } from 'knex'
import { executeWrite, selectRows, type Executor } from '../sql/prepared.js'

export interface RotationRunRow {
  id: number | string
  cutoff: Date
  started_by: Buffer
  started_at: Date
  finished_at: Date | null
  rotated: number
}

/** The unfinished rotate-all run, if one stopped half-way. */
export async function findOpenRun(db: Executor): Promise<RotationRunRow | undefined> {
  const rows = await selectRows<RotationRunRow>(
    db,
    db('key_rotation_runs')
      .select('*')
      .whereNull('finished_at')
      .orderBy('id')
      .limit(1)
      .forUpdate(),
    'find rotation run',
  )
  return rows[0]
}

/** Starts a run whose cutoff is the server's current time. */
export async function startRun(db: Executor, startedBy: Buffer): Promise<void> {
  await executeWrite(
    db,
    db('key_rotation_runs').insert({
      cutoff: db.raw('CURRENT_TIMESTAMP(3)'),
      started_by: startedBy,
    }),
    'start rotation run',
  )
}

export async function countRotated(db: Executor, runId: number | string): Promise<void> {
  await executeWrite(
    db,
    db('key_rotation_runs').increment('rotated', 1).where('id', runId),
    'count rotation',
  )
}

export async function finishRun(db: Executor, runId: number | string): Promise<void> {
  await executeWrite(
    db,
    db('key_rotation_runs')
      .update({ finished_at: db.raw('CURRENT_TIMESTAMP(3)') })
      .where('id', runId),
    'finish rotation run',
  )
}

/** Patients (`p`) whose current key version was made before `cutoff`. */
function keyedBefore(db: Executor, cutoff: Date): Knex.QueryBuilder {
  return db('patients as p')
    .join('patient_key_versions as v', function () {
      this.on('v.patient_id', '=', 'p.id').andOn(
        'v.version',
        '=',
        'p.current_key_version',
      )
    })
    .where('v.created_at', '<', cutoff)
}

/** Up to `limit` patients after `afterId` (by id) whose current key version was made before `cutoff`. */
export async function listPatientsKeyedBefore(
  db: Executor,
  cutoff: Date,
  afterId: Buffer,
  limit: number,
): Promise<Buffer[]> {
  const rows = await selectRows<{ id: Buffer }>(
    db,
    keyedBefore(db, cutoff)
      .andWhere('p.id', '>', afterId)
      .select('p.id')
      .orderBy('p.id')
      .limit(limit),
    'list patients to rotate',
  )
  return rows.map((r) => r.id)
}

/** How many patients are keyed before `cutoff` (progress totals). */
export async function countPatientsKeyedBefore(
  db: Executor,
  cutoff: Date,
): Promise<number> {
  const rows = await selectRows<{ n: number | string }>(
    db,
    keyedBefore(db, cutoff).count({ n: '*' }),
    'count patients to rotate',
  )
  return Number(rows[0]?.n ?? 0)
}
