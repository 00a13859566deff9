/**
 * `npm run bench [-- --quick]`: what emr-vault's encryption costs, measured side
 * by side with plaintext and with application-side AES-256-GCM, in one run.
 *
 * Runs against the server configured in the environment (EMR_VAULT_DB_HOST …,
 * or `.env`), else the private local server (scripts/dev-database.ts), always in
 * its own database `emr_vault_bench`, dropped at the start and at the end.
 * Prints a table and writes bench-results/bench-<time>.json and .svg (and
 * latest.json / latest.svg). Method and results: docs/performance.md.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { KDF_POLICY, TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { chartBaselineScenario } from './chart-baseline.js'
import { declaredTableScenario } from './declared-table.js'
import { BenchDatabase, benchServerConfig, serverVersion } from './database.js'
import { grantRotateScenario } from './grant-rotate.js'
import type { ScenarioResult } from './harness.js'
import { loginScenario } from './login.js'
import { memoryScenario } from './memory.js'
import { parseBenchArgs, USAGE, type ScenarioId } from './options.js'
import { passwordScenario } from './password.js'
import { readScenario } from './read.js'
import { formatTable, METHOD, renderSvg, toJson, type BenchReport } from './report.js'
import type { Scenario } from './scenario.js'
import { searchScenario } from './search.js'
import { evaluateTargets } from './targets.js'
import { writeScenario } from './write.js'

const SCENARIO_RUNNERS: Record<ScenarioId, Scenario> = {
  write: writeScenario,
  read: readScenario,
  password: passwordScenario,
  grant: grantRotateScenario,
  login: loginScenario,
  memory: memoryScenario,
  declared: declaredTableScenario,
  search: searchScenario,
  'chart-baseline': chartBaselineScenario,
}

function kdfDescription(): string {
  const t = TEST_KDF_POLICY
  const p = KDF_POLICY
  return (
    `KDF: TEST_KDF_POLICY (scrypt N=2^${Math.log2(t.scrypt.N)}, bcrypt ${t.bcryptCost}) in every scenario ` +
    `but login, which uses KDF_POLICY (scrypt N=2^${Math.log2(p.scrypt.N)} r=${p.scrypt.r} p=${p.scrypt.p}, bcrypt ${p.bcryptCost}).`
  )
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return 'unknown'
  }
}

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2))
  if (opts === 'help') {
    process.stdout.write(USAGE)
    return
  }
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const loadAverageStart = loadavg()
  const log = (line: string) => console.log(`  ${line}`)
  const config = await benchServerConfig(opts.database, (line) => log(`[db] ${line}`))
  const server = await serverVersion(config)
  console.log(
    `emr-vault bench on ${config.host}:${config.port}/${config.database} (${server})${opts.quick ? ', quick' : ''}`,
  )
  // A fresh recovery key pair and audit key for this run only.
  const bench = BenchDatabase.create(config, randomBytes(32))
  const results: ScenarioResult[] = []
  try {
    for (const id of opts.only) {
      console.log(`\n[${id}]`)
      results.push(await SCENARIO_RUNNERS[id]({ opts, bench, log }))
    }
  } finally {
    if (opts.keep) await bench.close()
    else await bench.drop()
  }

  const { out, ...options } = opts
  const report: BenchReport = {
    meta: {
      startedAt,
      seconds: (performance.now() - started) / 1000,
      quick: opts.quick,
      options,
      machine: {
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        memoryGiB: totalmem() / 2 ** 30,
        loadAverageStart,
        loadAverageEnd: loadavg(),
      },
      node: process.version,
      server,
      commit: gitCommit(),
      kdf: kdfDescription(),
      method: METHOD,
    },
    scenarios: results,
    targets: evaluateTargets(results),
  }
  console.log(`\n${formatTable(report)}\n`)

  const dir = resolve(out)
  mkdirSync(dir, { recursive: true })
  const stamp = startedAt.replace(/[:.]/g, '-')
  const name = `bench-${opts.quick ? 'quick-' : ''}${stamp}`
  const json = join(dir, `${name}.json`)
  const svg = join(dir, `${name}.svg`)
  writeFileSync(json, toJson(report))
  writeFileSync(svg, renderSvg(report))
  copyFileSync(json, join(dir, 'latest.json'))
  copyFileSync(svg, join(dir, 'latest.svg'))
  console.log(`Wrote ${json}\n      ${svg}\n      (and latest.json, latest.svg)`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
