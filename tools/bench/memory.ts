import { fork } from 'node:child_process'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import { benchSession, seedAuditRows, seedPatients, seedUserOf } from './fixtures.js'
import { compare, fmt, interleave, median, type Variant } from './harness.js'
import type { ExportRequest, ExportResult } from './memory-child.js'
import type { Scenario } from './scenario.js'

/** tsx's loader, to run TypeScript in a child process (`node --import`). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url))
/** Page size of both exports: the audit report's default. */
const PAGE = 1000

/** Runs one export in a fresh process and returns what it measured. */
function runChild(request: ExportRequest): Promise<ExportResult> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], {
      // --expose-gc: the child reports its live heap after a full GC at the end.
      execArgv: ['--expose-gc', '--import', TSX],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let settled = false
    child.once('message', (m: { ok: boolean; result?: ExportResult; error?: string }) => {
      settled = true
      if (m.ok) resolve(m.result!)
      else reject(new Error(`export child failed: ${m.error}`))
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`export child exited with ${code} before reporting`))
    })
    child.send(request)
  })
}

/**
 * Scenario 6: peak RSS of exporting the audit log and a chart set at two sizes,
 * each export in its own child process. Streaming with keyset pages means the
 * peak should not grow with the data.
 */
export const memoryScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b = await bench.fresh()
  const [small, large] = opts.memorySizes
  const perPatient = Math.min(opts.memoryRecordsPerPatient, small)
  const users = {
    small: await benchSession(b, 'bench-export-small'),
    large: await benchSession(b, 'bench-export-large'),
  }
  // Audit rows of actors that are not the exporting users (whose logins add rows).
  const actors = { small: newRowId(), large: newRowId() }
  for (const [size, count] of [
    ['small', small],
    ['large', large],
  ] as const) {
    const patients = Math.ceil(count / perPatient)
    log(`seeding ${size} chart set: ${patients} patients × ${perPatient} records`)
    const t = performance.now()
    await seedPatients(b, {
      owner: seedUserOf(users[size].session),
      count: patients,
      recordsPerPatient: perPatient,
      log,
    })
    log(
      `seeding ${count} audit rows (${fmt((performance.now() - t) / 1000)} s for the charts)`,
    )
    await seedAuditRows(b, actors[size], count)
  }
  for (const u of Object.values(users)) u.session.close()

  const results = new Map<string, ExportResult[]>()
  const variants: Variant[] = (['audit', 'chart'] as const).flatMap((kind) =>
    (['small', 'large'] as const).map((size): Variant => ({
      id: `${kind}-${size}`,
      label: `${kind === 'audit' ? 'audit log' : 'chart set'}, ${(size === 'small' ? small : large).toLocaleString('en-GB')} ${kind === 'audit' ? 'rows' : 'records'}`,
      run: async () => {
        const outFile = join(
          tmpdir(),
          `emr-vault-bench-${process.pid}-${kind}-${size}.ndjson`,
        )
        try {
          const result = await runChild({
            kind,
            config: b.config,
            auditKey: b.auditKey.toString('base64'),
            recoveryPublicKey: b.recovery.publicKey.toString('base64'),
            username: users[size].username,
            password: users[size].password,
            actorUserId: rowIdToString(actors[size]),
            pageSize: PAGE,
            outFile,
          })
          const expected = size === 'small' ? small : large
          const rows =
            kind === 'audit' ? expected : Math.ceil(expected / perPatient) * perPatient
          if (result.rows !== rows)
            throw new Error(`${kind} export wrote ${result.rows} rows`)
          results.set(`${kind}-${size}`, [
            ...(results.get(`${kind}-${size}`) ?? []),
            result,
          ])
          // The variant's sample is the child's peak RSS, in MB (not a time).
          return result.peakRssMB
        } finally {
          rmSync(outFile, { force: true })
        }
      },
    })),
  )
  log(`exports in child processes, ${opts.memoryRounds} round(s)`)
  const samples = await interleave({
    variants,
    rounds: opts.memoryRounds,
    warmup: 0,
    units: 1,
    log,
  })
  const describe = (id: string) => {
    const r = results.get(id)!
    const ms = median(r.map((x) => x.ms))
    const rows = r[0]!.rows
    return (
      `${id}: ${rows.toLocaleString('en-GB')} rows, ${fmt(r[0]!.bytes / 2 ** 20)} MB written in ${fmt(ms / 1000)} s ` +
      `(${fmt(rows / (ms / 1000))} rows/s); RSS after start-up ${fmt(median(r.map((x) => x.startRssMB)))} MB, ` +
      `live heap after a full GC at the end ${fmt(median(r.map((x) => x.liveHeapMB)))} MB`
    )
  }
  const comparisons = (['audit', 'chart'] as const).map((kind) => {
    const delta =
      median(samples.get(`${kind}-large`)!) - median(samples.get(`${kind}-small`)!)
    return compare({
      id: `memory.${kind}`,
      title:
        kind === 'audit'
          ? `export the audit log through auditReport pages of ${PAGE}`
          : `export a chart set (${perPatient} records per patient) in pages of ${PAGE}`,
      unit: 'MB peak RSS',
      baseline: `${kind}-small`,
      variants: variants.filter((v) => v.id.startsWith(kind)),
      samples,
      notes: [
        `peak RSS grows by ${fmt(delta)} MB from ${small.toLocaleString('en-GB')} to ${large.toLocaleString('en-GB')}`,
        describe(`${kind}-small`),
        describe(`${kind}-large`),
      ],
    })
  })
  return {
    id: 'memory',
    title: 'Memory: peak RSS of a streamed export, each in a child process',
    kdf: 'TEST_KDF_POLICY',
    comparisons,
    notes: [
      'Peak RSS is process.resourceUsage().maxRSS of the child at the end (it includes Node, tsx, knex and mysql2).',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}
