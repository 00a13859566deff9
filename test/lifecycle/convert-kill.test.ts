import { randomInt } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type mysql from 'mysql2/promise'
import { expect } from '../support/chai.js'
import { auditReport } from '../../src/services/audit.service.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { defineTable } from '../../src/schema/define-table.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { exited, spawnCli } from '../cli/run-cli.js'
import {
  createMedicationsTable,
  createPatients,
  legacyConnection,
  openAll,
  rawDump,
  rowValues,
  writeLegacyRows,
  type SourceRowValues,
} from '../support/conversion-fixture.js'
import { expectAuditChainVerifies } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, RUN_RECOVERY, testVault } from '../support/vault-fixture.js'

/**
 * The acceptance test of both conversions: a table of 2,000 real vault
 * patients (each created through the library, with its own key sealed to its
 * clinician and the recovery key), converted by the `emr-vault convert` command
 * in a child process that is killed with SIGKILL at least three times at random
 * moments while it works, then run again to the end. After every kill each row
 * holds its value exactly once (envelope or source), the patients converted are
 * exactly those with an audit row, and the chain verifies; at the end every
 * value reads back equal and a raw dump holds none of the old plaintext.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PATIENTS = 2000
const KILLS = 3
const TABLE = 'meds_kill'
const PASSWORD = 'legacy password of the old clinic app'

const declaration = defineTable({
  name: TABLE,
  encrypted: {
    drug: encrypted.text({ maxBytes: 200, nullable: true }),
    note: encrypted.text({ maxBytes: 400, nullable: true }),
  },
  convertingFrom: { drug: 'drug_plain' },
})

/** The application's module the command loads with --tables (through tsx, as the CLI runs here). */
function writeTablesModule(dir: string): string {
  const file = join(dir, 'tables.mjs')
  const src = (p: string) => JSON.stringify(join(ROOT, p))
  writeFileSync(
    file,
    `import { createHash } from 'node:crypto'
import { defineTable } from ${src('src/schema/define-table.ts')}
import { encrypted } from ${src('src/schema/encrypted-columns.ts')}
import { mysqlAesEcbDecrypt } from ${src('src/crypto/mysql-aes-ecb.ts')}
export const medications = defineTable({
  name: '${TABLE}',
  encrypted: {
    drug: encrypted.text({ maxBytes: 200, nullable: true }),
    note: encrypted.text({ maxBytes: 400, nullable: true }),
  },
  convertingFrom: { drug: 'drug_plain' },
})
/** The old app's per-patient key: AES_ENCRYPT(system_key, UNHEX(SHA2(password, 256))). */
export async function legacyKey(patientId, trx) {
  const [row] = await trx('legacy_patient_keys').select('wrapped')
    .where('patient_id', Buffer.from(patientId.replace(/-/g, ''), 'hex'))
  const userKey = createHash('sha256').update(process.env.LEGACY_PASSWORD, 'utf8').digest()
  return mysqlAesEcbDecrypt(row.wrapped, userKey)
}
`,
  )
  return file
}

describe('conversions killed with SIGKILL and resumed (2,000 patients)', function () {
  this.timeout(900_000)
  // The child process reads EMR_VAULT_DB_NAME: the suite's own database.
  const own = useOwnDatabase({ env: true })
  let vault: Vault
  let clinician: Session
  let legacy: mysql.Connection
  let adminName: string
  let adminPassword: string
  let values: SourceRowValues[]
  const dir = mkdtempSync(join(tmpdir(), 'emr-vault-convert-'))
  const keyFile = join(dir, 'recovery.json')
  let tablesModule: string

  before(async function () {
    this.timeout(900_000)
    ;({ vault } = testVault({ db: own.db(), tables: [declaration] }))
    writeFileSync(
      keyFile,
      JSON.stringify({
        publicKey: RUN_RECOVERY.publicKey.toString('base64'),
        privateKey: RUN_RECOVERY.privateKey.toString('base64'),
      }),
      { mode: 0o600 },
    )
    tablesModule = writeTablesModule(dir)
    const a = await registerTestUser(vault, 'ck-admin', ['admin'])
    adminName = a.username
    adminPassword = a.password
    const c = await registerTestUser(vault, 'ck-clinician')
    clinician = await vault.login(c.username, c.password)
    legacy = await legacyConnection(own.name())
    await createMedicationsTable(own.db(), TABLE)

    const started = Date.now()
    const ids = await createPatients(clinician, PATIENTS, 8)
    const made = Date.now()
    // One or two rows per patient: 3,000 rows.
    values = ids.flatMap((id, i) => rowValues(id, 1 + (i % 2), 'kill'))
    await writeLegacyRows(legacy, TABLE, values, { password: PASSWORD })
    console.log(
      `      set-up: ${PATIENTS} patients in ${made - started} ms ` +
        `(${((made - started) / PATIENTS).toFixed(1)} ms each), ${values.length} rows ` +
        `written as the old app did in ${Date.now() - made} ms`,
    )
  })

  after(async () => {
    clinician?.close()
    await legacy?.end()
  })

  /** How many rows still hold a source value, and the invariant of every row. */
  async function state(source: string, envelope: string) {
    const [[row]] = (await legacy.query(
      `SELECT SUM(?? IS NOT NULL) AS pending,
              SUM(?? IS NULL AND ?? IS NULL) AS lost,
              SUM(?? IS NOT NULL AND ?? IS NOT NULL) AS twice,
              COUNT(DISTINCT CASE WHEN ?? IS NOT NULL THEN patient_id END) AS patientsPending
         FROM ??`,
      [source, source, envelope, source, envelope, source, TABLE],
    )) as [Record<string, string | number>[], unknown]
    return {
      pending: Number(row!['pending']),
      lost: Number(row!['lost']),
      twice: Number(row!['twice']),
      patientsPending: Number(row!['patientsPending']),
    }
  }

  async function successes(action: 'convert.plaintext' | 'convert.legacy') {
    return (await auditReport(own.db(), { action, outcome: 'success', limit: 10_000 }))
      .length
  }

  /**
   * Runs `args` in a child process, SIGKILLs it KILLS times at a random moment
   * after it has converted at least one more patient, checking the invariants
   * after each kill, then lets a last run finish. Returns the kill count and times.
   */
  async function killAndResume(
    args: string[],
    source: string,
    envelope: string,
    action: 'convert.plaintext' | 'convert.legacy',
    afterKill: () => Promise<void> = async () => {},
  ) {
    const env = { LEGACY_PASSWORD: PASSWORD }
    const input = `${adminPassword}\n`
    const started = Date.now()
    const total = (await state(source, envelope)).patientsPending
    let kills = 0
    for (let attempt = 0; kills < KILLS; attempt++) {
      expect(attempt, 'runs needed to kill one mid-way').to.be.lessThan(KILLS + 5)
      const before = await state(source, envelope)
      const child = spawnCli(args, { env })
      const done = exited(child)
      child.stdin.end(input)
      let ended = false
      void done.then(() => (ended = true))
      // Wait until this run has committed a patient, then a random moment more.
      while (!ended && (await state(source, envelope)).pending >= before.pending)
        await sleep(50)
      if (!ended) await sleep(randomInt(0, 1500))
      if (ended) {
        const r = await done
        throw new Error(`the run finished before it was killed: ${r.code} ${r.stderr}`)
      }
      child.kill('SIGKILL')
      const r = await done
      expect(r.signal).to.equal('SIGKILL')
      kills++
      const after = await state(source, envelope)
      expect(after.lost, 'rows holding neither value').to.equal(0)
      expect(after.twice, 'rows holding both').to.equal(0)
      expect(after.pending).to.be.below(before.pending).and.above(0)
      // Exactly the patients whose transactions committed have their audit row.
      expect(await successes(action)).to.equal(total - after.patientsPending)
      await expectAuditChainVerifies(own.db())
      await afterKill()
      console.log(
        `      ${action}: kill ${kills} with ${after.patientsPending} of ${total} patients left`,
      )
    }
    const last = await exited(
      (() => {
        const child = spawnCli(args, { env })
        child.stdin.end(input)
        return child
      })(),
    )
    expect(last.code, last.stderr).to.equal(0)
    const result = JSON.parse(last.stdout) as { finished: boolean; remaining: unknown }
    expect(result).to.deep.include({
      finished: true,
      remaining: { patients: 0, rows: 0 },
    })
    const end = await state(source, envelope)
    expect(end).to.deep.equal({ pending: 0, lost: 0, twice: 0, patientsPending: 0 })
    expect(await successes(action)).to.equal(total)
    await expectAuditChainVerifies(own.db())
    return { kills, ms: Date.now() - started }
  }

  const common = () => [
    '--tables',
    tablesModule,
    '--table',
    TABLE,
    '--as',
    adminName,
    '--recovery-key',
    keyFile,
    '--password-stdin',
    '--json',
  ]

  it('plaintext → field: killed 3 times at random, resumed, nothing lost, no plaintext left; dual read meanwhile', async () => {
    const { kills, ms } = await killAndResume(
      ['convert', 'plaintext', '--field', 'drug', ...common()],
      'drug_plain',
      'drug_enc',
      'convert.plaintext',
      async () => {
        // Dual read while it runs: rows not converted yet read their plaintext
        // column, converted ones their envelope, through the same repository.
        const [rows] = (await legacy.query(
          `(SELECT LOWER(HEX(id)) AS id, 0 AS sealed FROM ?? WHERE drug_plain IS NOT NULL LIMIT 5)
           UNION ALL (SELECT LOWER(HEX(id)), 1 FROM ?? WHERE drug_enc IS NOT NULL LIMIT 5)`,
          [TABLE, TABLE],
        )) as [{ id: string; sealed: number }[], unknown]
        // Killed mid-way: both kinds are there (at least one patient committed,
        // at least one pending), up to 5 of each, however early the kill came.
        const sealed = rows.filter((r) => Number(r.sealed) === 1).length
        expect(sealed).to.be.within(1, 5)
        expect(rows.length - sealed).to.equal(5)
        const repo = clinician.table(declaration)
        for (const r of rows) {
          const v = values.find((x) => x.id.replace(/-/g, '') === r.id)!
          expect((await repo.get(v.patientId, v.id)).drug, `row ${v.id}`).to.equal(v.drug)
        }
      },
    )
    expect(kills).to.be.at.least(KILLS)
    console.log(`      plaintext: ${kills} kills, all ${PATIENTS} patients in ${ms} ms`)
    const opened = await openAll(own.db(), RUN_RECOVERY, TABLE, ['drug_enc'])
    for (const v of values) expect(opened.get(v.id)?.['drug_enc'], v.id).to.equal(v.drug)
    const dump = await rawDump(legacy, TABLE)
    for (const v of values)
      expect(dump.includes(Buffer.from(v.drug)), v.id).to.equal(false)
    // Through the repository: every row reads its drug from the envelope now.
    const repo = clinician.table(declaration)
    for (const v of values.slice(0, 20))
      expect((await repo.get(v.patientId, v.id)).drug).to.equal(v.drug)
  })

  it('legacy AES_ENCRYPT → field under each patient key: killed 3 times at random, resumed, nothing lost, nothing legacy left', async () => {
    const { kills, ms } = await killAndResume(
      [
        'convert',
        'legacy',
        '--field',
        'note',
        '--from',
        'note_legacy',
        '--key-export',
        'legacyKey',
        ...common(),
      ],
      'note_legacy',
      'note_enc',
      'convert.legacy',
    )
    expect(kills).to.be.at.least(KILLS)
    console.log(`      legacy: ${kills} kills, all ${PATIENTS} patients in ${ms} ms`)
    const opened = await openAll(own.db(), RUN_RECOVERY, TABLE, ['drug_enc', 'note_enc'])
    for (const v of values)
      expect(opened.get(v.id), v.id).to.deep.equal({ drug_enc: v.drug, note_enc: v.note })
    const dump = await rawDump(legacy, TABLE)
    for (const v of values) {
      expect(dump.includes(Buffer.from(v.note)), v.id).to.equal(false)
      expect(dump.includes(Buffer.from(v.drug)), v.id).to.equal(false)
    }
    const repo = clinician.table(declaration)
    for (const v of values.slice(-20))
      expect(await repo.get(v.patientId, v.id)).to.deep.include({
        drug: v.drug,
        note: v.note,
      })
  })
})
