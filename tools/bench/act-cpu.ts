/**
 * `npx tsx tools/bench/act-cpu.ts [--acts 500] [--rounds 3] [--warmup 300] [--chart 20] [--database emr_vault_bench_cpu]`
 *
 * Node CPU per audited act (issue 13): N `session.readChart` (a 20-record chart)
 * and N `session.addRecord` (a 1 KB note), run serially from a warm session, and
 * `process.cpuUsage()` (user + system) over each batch divided by N. Wall time is
 * printed too but is mostly the server's; CPU is the number this tool is for.
 * Statements per act are counted through the prepared-statement seam (the
 * observer is off while CPU is measured). Each act kind runs `--rounds` batches
 * alternately after `--warmup` unmeasured acts of each; the median batch is quoted.
 *
 * Same server and database rules as `npm run bench` (tools/bench/database.ts):
 * the configured server or the private local one, its own database, dropped at
 * the end. To see where the CPU goes: `node --cpu-prof --import tsx tools/bench/act-cpu.ts`.
 */
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { BenchDatabase, benchServerConfig, serverVersion } from './database.js'
import { benchSession, sampleRecord, seedPatients, seedUserOf } from './fixtures.js'
import { fmt, median, statementsOf } from './harness.js'

interface Batch {
  readonly cpuMs: number
  readonly wallMs: number
}

async function batch(acts: number, act: (i: number) => Promise<unknown>): Promise<Batch> {
  const wall = performance.now()
  const cpu = process.cpuUsage()
  for (let i = 0; i < acts; i++) await act(i)
  const used = process.cpuUsage(cpu)
  return {
    cpuMs: (used.user + used.system) / 1000 / acts,
    wallMs: (performance.now() - wall) / acts,
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      acts: { type: 'string', default: '500' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '300' },
      chart: { type: 'string', default: '20' },
      database: { type: 'string', default: 'emr_vault_bench_cpu' },
    },
  })
  const acts = Number(values.acts)
  const rounds = Number(values.rounds)
  const warmup = Number(values.warmup)
  const chart = Number(values.chart)
  const config = await benchServerConfig(values.database, (line) =>
    console.log(`[db] ${line}`),
  )
  console.log(`act-cpu on ${await serverVersion(config)}, node ${process.version}`)
  const bench = BenchDatabase.create(config, randomBytes(32))
  try {
    const b = await bench.fresh()
    const { session } = await benchSession(b, 'cpu-reader')
    // One patient is read, another is written to, so the read chart stays at `chart` records.
    const [read, written] = await seedPatients(b, {
      owner: seedUserOf(session),
      count: 2,
      recordsPerPatient: chart,
    })
    const readChart = async () => {
      const c = await session.readChart(read!.id)
      if (c.records.length !== chart || c.state !== 'verified')
        throw new Error(`read ${c.records.length} records, state ${c.state}`)
    }
    let n = 0
    const addRecord = () => session.addRecord(written!.id, sampleRecord(n++))

    console.log(`readChart: ${await statementsOf(readChart)}`)
    console.log(`addRecord: ${await statementsOf(addRecord)}`)

    const load = loadavg()
    // Unmeasured: the first few hundred acts are slower while V8 optimises.
    await batch(warmup, readChart)
    await batch(warmup, addRecord)
    const samples: Record<'readChart' | 'addRecord', Batch[]> = {
      readChart: [],
      addRecord: [],
    }
    for (let r = 0; r < rounds; r++) {
      samples.readChart.push(await batch(acts, readChart))
      samples.addRecord.push(await batch(acts, addRecord))
      console.log(
        `round ${r + 1}/${rounds}: readChart ${fmt(samples.readChart.at(-1)!.cpuMs)} ms CPU/act, ` +
          `addRecord ${fmt(samples.addRecord.at(-1)!.cpuMs)} ms CPU/act`,
      )
    }
    for (const [name, s] of Object.entries(samples)) {
      const cpu = s.map((x) => x.cpuMs)
      console.log(
        `${name}: CPU ${fmt(median(cpu))} ms/act (min ${fmt(Math.min(...cpu))}, max ${fmt(Math.max(...cpu))}), ` +
          `wall ${fmt(median(s.map((x) => x.wallMs)))} ms/act, ${acts} acts x ${rounds} rounds`,
      )
    }
    const end = loadavg()
    console.log(
      `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}, at end ${end.map((l) => l.toFixed(2)).join(' ')}`,
    )
  } finally {
    await bench.drop()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
