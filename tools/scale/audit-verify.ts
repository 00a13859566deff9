/**
 * `npm run scale:audit-verify [-- --rows 1000000 --new 1000 --rounds 3]`: what
 * a verify resumed from an anchor saves (issue 13: "audit verify resumes from a
 * stored anchor and checks only rows after it"), against a full verify of the
 * same chain, interleaved round by round.
 *
 * The chain. `--rows` rows are made here, not through the service: each
 * audited act takes the chain's head lock, about 100 a second, so a million
 * rows would take hours. They are the rows the service would write (the
 * migration's DDL, MACs chained with the library's own auditRowMac, the head
 * keyed with auditHeadMac) and a full verify must accept them, which the run
 * checks. A full verify records the anchor; then `--new` rows are appended
 * through the service (appendAudits, 100 to a transaction).
 *
 * Each round runs the full verify and the resumed one, in alternating order,
 * and checks both end at the same head. Runs on the server of the
 * environment, else the private local one (EMR_VAULT_ENGINE=mariadb for
 * MariaDB), in the database `emr_vault_bench_audit`, dropped at the start and
 * the end. The audit key is made at run time and never printed.
 */
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { auditGenesisMac, auditHeadMac, auditRowMac } from '../../src/crypto/audit-mac.js'
import { createDb } from '../../src/db/index.js'
import { newRowId } from '../../src/db/row-id.js'
import { createAuditTables } from '../../src/migrations/20261129_0002_audit_log.js'
import type { AuditTables } from '../../src/repositories/audit-log.row.js'
import { appendAudits, type AuditEvent } from '../../src/services/audit.service.js'
import { verifyAuditChain, type AuditHeadState } from '../../src/services/audit-verify.js'
import { benchServerConfig, dropBenchDatabase, serverVersion } from '../bench/database.js'
import { insertRows } from '../bench/fixtures.js'
import mysql from 'mysql2/promise'

const DATABASE = 'emr_vault_bench_audit'
const TABLES: AuditTables = { log: 'audit_log', head: 'audit_chain_head' }

interface Options {
  readonly rows: number
  readonly newRows: number
  readonly rounds: number
}

function parseArgs(argv: readonly string[]): Options {
  const o = { rows: 1_000_000, newRows: 1000, rounds: 3 }
  const flags: Record<string, keyof typeof o> = {
    '--rows': 'rows',
    '--new': 'newRows',
    '--rounds': 'rounds',
  }
  for (let i = 0; i < argv.length; i++) {
    const field = flags[argv[i]!]
    const n = Number(argv[i + 1])
    if (!field || !Number.isInteger(n) || n < 1)
      throw new Error(`usage: scale:audit-verify [--rows N] [--new N] [--rounds N]`)
    o[field] = n
    i++
  }
  return o
}

const actors = Array.from({ length: 50 }, () => newRowId())
const patients = Array.from({ length: 5000 }, () => newRowId())

/** The i-th act of the made chain: reads, writes and a search now and then. */
function eventOf(i: number): AuditEvent {
  const action = i % 11 === 0 ? 'search' : i % 3 === 0 ? 'record.create' : 'patient.read'
  return {
    actorUserId: actors[i % actors.length]!,
    action,
    patientId: action === 'search' ? null : patients[(i * 7) % patients.length]!,
    targetUserId: null,
    outcome: 'success',
    reason: null,
    detail: action === 'search' ? 'patients.byNationalId: 1 found' : null,
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const seconds = (ms: number) => (ms / 1000).toFixed(2)

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const config = await benchServerConfig(DATABASE, (line) => console.log(line))
  await dropBenchDatabase(config)
  const admin = await mysql.createConnection({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
  })
  await admin.query(`CREATE DATABASE \`${DATABASE}\` CHARACTER SET utf8mb4`)
  await admin.end()
  const db = createDb(config)
  const key = randomBytes(32)
  const started = performance.now()
  console.log(
    `server ${await serverVersion(config)}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join('/')} at start`,
  )
  try {
    await createAuditTables(db, TABLES)
    // The chain, made in Node and inserted 1,000 rows a statement.
    const t0 = performance.now()
    let prev = auditGenesisMac()
    const base = Date.UTC(2026, 0, 1)
    let batch: Record<string, unknown>[] = []
    for (let i = 0; i < o.rows; i++) {
      const e = eventOf(i)
      const seq = BigInt(i + 1)
      const occurredAt = new Date(base + i * 10)
      const fields = {
        seq,
        occurredAt,
        actorUserId: e.actorUserId ?? null,
        action: e.action,
        patientId: e.patientId ?? null,
        targetUserId: null,
        outcome: e.outcome,
        reason: null,
        detail: e.detail ?? null,
      }
      prev = auditRowMac(key, prev, fields)
      batch.push({
        seq: seq.toString(),
        occurred_at: occurredAt,
        actor_user_id: fields.actorUserId,
        action: fields.action,
        patient_id: fields.patientId,
        target_user_id: null,
        outcome: fields.outcome,
        reason: null,
        detail: fields.detail,
        mac: prev,
      })
      if (batch.length === 10_000 || i === o.rows - 1) {
        await insertRows(db, TABLES.log, batch)
        batch = []
      }
    }
    const lastSeq = BigInt(o.rows)
    await db(TABLES.head).update({
      last_seq: lastSeq.toString(),
      last_mac: prev,
      head_mac: auditHeadMac(key, lastSeq, prev),
    })
    console.log(
      `made ${o.rows.toLocaleString('en-GB')} rows in ${seconds(performance.now() - t0)} s`,
    )

    const first = await verifyAuditChain(db, key, { tables: TABLES })
    if (!first.ok || first.rows !== o.rows)
      throw new Error('the made chain does not verify')
    const anchor: AuditHeadState = first.head
    for (let at = 0; at < o.newRows; at += 100) {
      const events = Array.from({ length: Math.min(100, o.newRows - at) }, (_, j) =>
        eventOf(o.rows + at + j),
      )
      await db.transaction((trx) => appendAudits(trx, key, events, TABLES))
    }

    const full: number[] = []
    const resumed: number[] = []
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? ['full', 'resumed'] : ['resumed', 'full']
      const heads: string[] = []
      for (const which of order) {
        const t = performance.now()
        const r = await verifyAuditChain(db, key, {
          tables: TABLES,
          anchor,
          ...(which === 'resumed' ? { resume: true } : {}),
        })
        const ms = performance.now() - t
        const want = which === 'full' ? o.rows + o.newRows : o.newRows
        if (!r.ok || r.rows !== want)
          throw new Error(`${which} verify: ${JSON.stringify(r)}`)
        heads.push(r.head.lastMac)
        ;(which === 'full' ? full : resumed).push(ms)
        console.log(`round ${round + 1}: ${which} ${seconds(ms)} s (${r.rows} rows)`)
      }
      if (heads[0] !== heads[1])
        throw new Error('the two verifies end at different heads')
    }
    const f = median(full)
    const r = median(resumed)
    console.log(
      `\nfull verify of ${(o.rows + o.newRows).toLocaleString('en-GB')} rows: median ${seconds(f)} s ` +
        `(${seconds((f * 1e6) / (o.rows + o.newRows))} s per million rows)\n` +
        `resumed after the anchor, ${o.newRows.toLocaleString('en-GB')} new rows: median ${r.toFixed(1)} ms ` +
        `(${(f / r).toFixed(0)}× faster)\n` +
        `load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join('/')} at end; whole run ${seconds(performance.now() - started)} s`,
    )
  } finally {
    await db.destroy()
    await dropBenchDatabase(config)
  }
}

await main()
