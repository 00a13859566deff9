import { randomInt } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { auditReport } from '../../src/services/audit.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { exited, runCli, spawnCli } from '../cli/run-cli.js'
import { createPatients } from '../support/conversion-fixture.js'
import { expectAuditChainVerifies } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, RUN_RECOVERY, testVault } from '../support/vault-fixture.js'

/**
 * The acceptance test of the emergency key rotation: 2,000 real vault patients
 * sealed to emergency key v1, rotated by `emr-vault emergency rotate` in a child
 * process that is SIGKILLed at least three times at moments drawn from the
 * progress it has committed (not from a clock), stopped once with SIGINT as
 * Ctrl-C would, then run to the end. After every stop: each patient's current
 * key version has an emergency seal, under v1 or v2; both versions stored; the
 * audit chain verifies; break-glass by a holder works. At the end: every
 * patient sealed to v2 only, no row under v1 anywhere, break-glass works.
 */
const PATIENTS = 2000
const KILLS = 3

describe('emergency key rotation killed with SIGKILL and resumed (2,000 patients)', function () {
  this.timeout(900_000)
  // The child process reads EMR_VAULT_DB_NAME: the suite's own database.
  const own = useOwnDatabase({ env: true })
  let db: Knex
  let vault: Vault
  let admin: { username: string; password: string }
  let erin: Session
  let frankName: string
  let ids: string[]
  const dir = mkdtempSync(join(tmpdir(), 'emr-vault-emergency-'))
  const keyFile = join(dir, 'recovery.json')

  before(async function () {
    this.timeout(900_000)
    db = own.db()
    ;({ vault } = testVault({ db }))
    writeFileSync(
      keyFile,
      JSON.stringify({
        publicKey: RUN_RECOVERY.publicKey.toString('base64'),
        privateKey: RUN_RECOVERY.privateKey.toString('base64'),
      }),
      { mode: 0o600 },
    )
    const a = await registerTestUser(vault, 'ek-admin', ['admin'])
    admin = a
    const c = await registerTestUser(vault, 'ek-clinician')
    const e = await registerTestUser(vault, 'ek-erin', ['clinician', 'emergency'])
    const f = await registerTestUser(vault, 'ek-frank', ['clinician', 'emergency'])
    frankName = f.username
    const boss = await vault.login(a.username, a.password)
    const clinician = await vault.login(c.username, c.password)
    erin = await vault.login(e.username, e.password)
    try {
      // Set up first: each patient is then sealed to v1 as it is created.
      const authority = { admin: boss, recoveryPrivateKey: RUN_RECOVERY.privateKey }
      await vault.setUpEmergencyAccess(authority)
      await vault.grantEmergencyKey(authority, e.user.id)
      await vault.grantEmergencyKey(authority, f.user.id)
      const started = Date.now()
      ids = await createPatients(clinician, PATIENTS, 8)
      console.log(`      set-up: ${PATIENTS} patients in ${Date.now() - started} ms`)
    } finally {
      boss.close()
      clinician.close()
    }
  })

  after(() => erin?.close())

  async function state() {
    const [row] = (await db('patients as p')
      .leftJoin('patient_key_emergency_seals as s', function () {
        this.on('s.patient_id', '=', 'p.id').andOn(
          's.key_version',
          '=',
          'p.current_key_version',
        )
      })
      .select(
        db.raw('SUM(s.patient_id IS NULL) AS missing'),
        db.raw('SUM(s.emergency_key_version = 1) AS v1'),
        db.raw('SUM(s.emergency_key_version = 2) AS v2'),
      )) as { missing: unknown; v1: unknown; v2: unknown }[]
    return { missing: Number(row!.missing), v1: Number(row!.v1), v2: Number(row!.v2) }
  }

  const versions = async () =>
    (await db('emergency_key').select('version').orderBy('version')).map(
      (r: { version: number }) => r.version,
    )

  /** Rows under `version` in each table that names an emergency key version. */
  async function rowsUnder(version: number) {
    const count = async (table: string, column: string) =>
      Number((await db(table).where(column, version).count({ n: '*' }))[0]!.n)
    return {
      keys: await count('emergency_key', 'version'),
      holders: await count('emergency_key_holders', 'emergency_key_version'),
      seals: await count('patient_key_emergency_seals', 'emergency_key_version'),
    }
  }

  let opened = 0
  /** Erin breaks glass on a patient she has not opened yet, and reads it. */
  async function breakGlassWorks() {
    const id = ids[opened++]!
    await erin.breakGlass(id, 'Emergency during the emergency key rotation')
    expect((await erin.readPatient(id)).fullName).to.match(/^Conversion Patient \d+$/)
  }

  const args = () => [
    'emergency',
    'rotate',
    '--as',
    admin.username,
    '--recovery-key',
    keyFile,
    '--password-stdin',
    '--json',
  ]

  /** Starts a run, waits until it has re-sealed `more` patients beyond `from`, stops it with `signal`. */
  async function runUntil(more: number, signal: NodeJS.Signals) {
    const from = (await state()).v2
    const child = spawnCli(args())
    const done = exited(child)
    child.stdin.end(`${admin.password}\n`)
    let ended = false
    void done.then(() => (ended = true))
    while (!ended && (await state()).v2 < from + more) await sleep(20)
    if (ended) {
      const r = await done
      throw new Error(`the run ended before it was stopped: ${r.code} ${r.stderr}`)
    }
    child.kill(signal)
    return done
  }

  async function expectConsistent() {
    const s = await state()
    expect(s.missing, 'patients without an emergency seal of their key').to.equal(0)
    expect(s.v1 + s.v2).to.equal(PATIENTS)
    expect(await versions()).to.deep.equal([1, 2])
    await expectAuditChainVerifies(db)
    await breakGlassWorks()
    return s
  }

  it('revoke suggests a rotation; killed 3 times at random and once with Ctrl-C, resumed: every patient under the new key only', async () => {
    const revoke = await runCli(
      [
        'emergency',
        'revoke',
        '--as',
        admin.username,
        '--user',
        frankName,
        '--password-stdin',
      ],
      { input: `${admin.password}\n` },
    )
    expect(revoke.code, revoke.stderr).to.equal(0)
    expect(revoke.stdout).to.include(`${frankName} no longer holds the emergency key`)
    expect(revoke.stdout).to.include('rotate it now with `emr-vault emergency rotate')

    const started = Date.now()
    for (let kills = 0; kills < KILLS; kills++) {
      const before = (await state()).v2
      // A moment drawn from the work left: some patients more, keeping a share
      // of it for the kills still to come and the last run.
      const share = Math.floor((PATIENTS - before) / (KILLS - kills + 2))
      const r = await runUntil(randomInt(1, Math.max(2, share)), 'SIGKILL')
      expect(r.signal).to.equal('SIGKILL')
      const s = await expectConsistent()
      expect(s.v2).to.be.above(before).and.below(PATIENTS)
      console.log(
        `      kill ${kills + 1} with ${s.v1} of ${PATIENTS} patients left under v1`,
      )
    }

    // Ctrl-C: the run stops between two patients and says so, exit 130.
    const before = (await state()).v2
    const interrupted = await runUntil(1, 'SIGINT')
    expect(interrupted.code, interrupted.stderr).to.equal(130)
    expect(interrupted.stderr).to.match(/interrupted: run again to finish/)
    expect(JSON.parse(interrupted.stdout)).to.deep.include({
      fromVersion: 1,
      toVersion: 2,
      resumed: true,
      finished: false,
    })
    const s = await expectConsistent()
    expect(s.v2).to.be.above(before)

    const last = exited(
      (() => {
        const child = spawnCli(args())
        child.stdin.end(`${admin.password}\n`)
        return child
      })(),
    )
    const end = await last
    expect(end.code, end.stderr).to.equal(0)
    const result = JSON.parse(end.stdout) as Record<string, unknown>
    expect(result).to.deep.include({
      fromVersion: 1,
      toVersion: 2,
      resumed: true,
      holders: 0,
      finished: true,
      resealed: s.v1,
    })
    // Erin's v1 copy; frank's went with the revoke.
    expect(result['retired']).to.deep.equal({ seals: 0, holders: 1, keys: 1 })
    console.log(
      `      ${KILLS} kills and a Ctrl-C, all ${PATIENTS} patients in ${Date.now() - started} ms`,
    )

    expect(await state()).to.deep.equal({ missing: 0, v1: 0, v2: PATIENTS })
    expect(await versions()).to.deep.equal([2])
    expect(await rowsUnder(1)).to.deep.equal({ keys: 0, holders: 0, seals: 0 })
    expect(await rowsUnder(2)).to.deep.equal({ keys: 1, holders: 1, seals: PATIENTS })
    const rotations = await auditReport(db, { action: 'emergency.rotate', limit: 100 })
    expect(rotations.map((r) => [r.outcome, r.detail])).to.deep.equal([
      ['success', 'start v1->v2'],
      ['success', 'finish v1->v2'],
    ])
    await expectAuditChainVerifies(db)
    await breakGlassWorks()
  })
})
