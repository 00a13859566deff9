import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import mysql from 'mysql2/promise'
import { expect } from '../support/chai.js'
import { testDbConfig } from '../support/test-env.js'
import type { BenchReport } from '../../tools/bench/report.js'
import { SCENARIOS } from '../../tools/bench/options.js'

/** tsx's loader, to run TypeScript in a child process (`node --import`). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Quick mode with the smallest sizes that still exercise every code path, so
 * the suite (run twice in CI, MySQL then MariaDB) pays about half a minute.
 */
const TINY = [
  '--quick',
  '--rounds=2',
  '--warmup=0',
  '--records=8',
  '--batch=4',
  '--reads=3',
  '--grants=10,100',
  '--grantees=8',
  '--rotate-values=120',
  '--rotate-all-patients=3',
  '--rotate-all-records=4',
  '--login-rounds=1',
  '--memory-sizes=200,600',
  '--search-sizes=300,1200',
  '--search-patients=10',
  '--searches=3',
]

function runBench(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, 'tools/bench/main.ts', ...args],
      // The global fixture put this run's server in EMR_VAULT_DB_*; the bench uses
      // that server (not its database: it makes its own, named below).
      { cwd: ROOT, env: process.env, maxBuffer: 16 * 2 ** 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('bench: npm run bench -- --quick runs every scenario end to end', function () {
  this.timeout(180_000)
  let out: string

  before(() => {
    out = mkdtempSync(join(tmpdir(), 'emr-vault-bench-test-'))
  })
  after(() => rmSync(out, { recursive: true, force: true }))

  it('prints the table and writes JSON and SVG with a numeric median and ratio for every variant of every scenario', async () => {
    const database = `emr_vault_bench_t${randomBytes(4).toString('hex')}`
    const { code, stdout, stderr } = await runBench([
      ...TINY,
      `--out=${out}`,
      `--database=${database}`,
    ])
    expect(code, `bench failed:\n${stderr}\n${stdout.slice(-4000)}`).to.equal(0)
    expect(stdout).to.include('## Targets')

    const report = JSON.parse(
      readFileSync(join(out, 'latest.json'), 'utf8'),
    ) as BenchReport
    expect(report.meta.quick).to.equal(true)
    expect(report.scenarios.map((s) => s.id)).to.deep.equal([...SCENARIOS])
    for (const scenario of report.scenarios) {
      expect(scenario.comparisons, scenario.id).to.have.length.greaterThan(0)
      for (const comparison of scenario.comparisons) {
        expect(comparison.variants.map((v) => v.id)).to.include(comparison.baseline)
        for (const v of comparison.variants) {
          const where = `${comparison.id} / ${v.id}`
          expect(v.samples, where).to.have.length.greaterThan(0)
          expect(Number.isFinite(v.median) && v.median > 0, `${where} median`).to.equal(
            true,
          )
          expect(Number.isFinite(v.ratio) && v.ratio > 0, `${where} ratio`).to.equal(true)
        }
        const baseline = comparison.variants.find((v) => v.id === comparison.baseline)!
        expect(baseline.ratio).to.equal(1)
      }
    }
    expect(report.scenarios.find((s) => s.id === 'login')!.kdf).to.equal('KDF_POLICY')
    expect(report.targets.length).to.be.greaterThan(5)
    for (const t of report.targets) expect(Number.isFinite(t.value), t.id).to.equal(true)
    expect(readFileSync(join(out, 'latest.svg'), 'utf8')).to.match(/^<svg [^>]+>/)

    // The bench dropped its database.
    const c = testDbConfig()
    const admin = await mysql.createConnection({
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
    })
    try {
      const [rows] = await admin.query('SHOW DATABASES LIKE ?', [database])
      expect(rows).to.have.length(0)
    } finally {
      await admin.end()
    }
  })

  it('refuses a database that is not its own', async () => {
    const { code, stderr } = await runBench(['--quick', '--database=emr_vault'])
    expect(code).to.not.equal(0)
    expect(stderr).to.include('--database must be emr_vault_bench')
  })
})
