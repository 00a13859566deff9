import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from '../support/chai.js'
import { engineFromEnv, localServerStatus } from '../../src/testing/local-db/index.js'
import { rowIdFromString } from '../../src/db/row-id.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  registerTestUser,
  RUN_RECOVERY,
  testVault,
  uniqueName,
} from '../support/vault-fixture.js'
import { runCli } from './run-cli.js'
import { ACTION_SYSTEM } from '../../src/services/audit-fhir.js'
import { fhirAuditEventProblems } from '../support/fhir-audit-event.js'

/**
 * The commands against a database of the suite's own, run in-process (run-cli.ts). Each test
 * makes its own users and patients through the library, with unique names, so
 * that none depends on another or on what else the database holds.
 */
describe('emr-vault command line (in-process, test database)', function () {
  // Generous for a loaded machine; nothing here measures time.
  this.timeout(60_000)
  // `rotate --all` acts on every patient and `audit verify` reads the whole
  // chain: the suite and the commands it runs (EMR_VAULT_DB_NAME) use a database
  // of their own, so neither depends on what other suites left.
  const own = useOwnDatabase({ env: true })
  let vault: Vault
  const dir = mkdtempSync(join(tmpdir(), 'emr-vault-cli-'))
  const keyFile = join(dir, 'recovery.json')

  before(() => {
    ;({ vault } = testVault({ db: own.db() }))
    writeFileSync(
      keyFile,
      JSON.stringify({
        publicKey: RUN_RECOVERY.publicKey.toString('base64'),
        privateKey: RUN_RECOVERY.privateKey.toString('base64'),
      }),
      { mode: 0o600 },
    )
  })

  const admin = () => registerTestUser(vault, 'cli-admin', ['admin'])
  const clinician = () => registerTestUser(vault, 'cli-clinician', ['clinician'])
  const lines = (...values: string[]) => ({ input: values.map((v) => `${v}\n`).join('') })

  /** A patient created by a new clinician, who holds its only grant. */
  async function patientOfNewClinician() {
    const owner = await clinician()
    const session = await vault.login(owner.username, owner.password)
    const patientId = await session.createPatient({
      fullName: 'Cli Patient',
      dateOfBirth: '1990-09-09',
    })
    return { owner, session, patientId }
  }

  describe('users and passwords', () => {
    it('user create / list / disable / enable, passwords from stdin', async () => {
      const boss = await admin()
      const names = {
        alice: uniqueName('cli-alice'),
        bob: uniqueName('cli-bob'),
        admin: uniqueName('cli-admin'),
      }
      for (const [who, role] of [
        ['alice', 'clinician'],
        ['bob', 'clinician'],
        ['admin', 'admin'],
      ] as const) {
        const r = await runCli(
          [
            'user',
            'create',
            '--as',
            boss.username,
            '--username',
            names[who],
            '--name',
            `${who} (cli)`,
            '--role',
            role,
            '--password-stdin',
            '--json',
          ],
          lines(boss.password, `${who}-cli-password-1`),
        )
        expect(r.code, r.stderr).to.equal(0)
        expect(JSON.parse(r.stdout)).to.include({ username: names[who] })
      }
      const dup = await runCli(
        [
          'user',
          'create',
          '--as',
          boss.username,
          '--username',
          names.alice,
          '--name',
          'again',
          '--password-stdin',
        ],
        lines(boss.password, 'whatever-password'),
      )
      expect([dup.code, dup.stderr.trim()]).to.deep.equal([
        5,
        'emr-vault user create: "username" is already taken',
      ])

      const list = await runCli(['user', 'list', '--json'])
      const users = JSON.parse(list.stdout) as { username: string; disabled: boolean }[]
      expect(users.find((u) => u.username === names.bob)).to.include({ disabled: false })

      const asBoss = ['--as', boss.username, '--password-stdin']
      const unattributed = await runCli(['user', 'disable', '--username', names.bob])
      expect(unattributed.code).to.equal(2)
      expect(unattributed.stderr).to.match(/--as ADMIN is required/)
      const notAdmin = await runCli(
        [
          'user',
          'disable',
          '--username',
          names.bob,
          '--as',
          names.alice,
          '--password-stdin',
        ],
        lines('alice-cli-password-1'),
      )
      expect(notAdmin.code).to.equal(4)
      const disable = await runCli(
        ['user', 'disable', '--username', names.bob, ...asBoss],
        lines(boss.password),
      )
      expect(disable.code, disable.stderr).to.equal(0)
      const disabled = JSON.parse(
        (await runCli(['user', 'list', '--json'])).stdout,
      ) as typeof users
      expect(disabled.find((u) => u.username === names.bob)).to.include({
        disabled: true,
      })
      expect(
        (
          await runCli(
            ['user', 'enable', '--username', names.bob, ...asBoss],
            lines(boss.password),
          )
        ).code,
      ).to.equal(0)
      expect(
        (
          await runCli(
            ['user', 'disable', '--username', 'nobody-here', ...asBoss],
            lines(boss.password),
          )
        ).code,
      ).to.equal(5)
    })

    it('user certify certifies the users without a certificate, once; a non-admin exits 4', async () => {
      const boss = await admin()
      const old = [await clinician(), await clinician()]
      // As a database from before certificates holds them.
      await own
        .db()('users')
        .whereIn(
          'id',
          old.map((u) => rowIdFromString(u.user.id, 'userId')),
        )
        .update({ public_key_certificate: null })
      const certify = ['user', 'certify', '--password-stdin']
      const notAdmin = await runCli(
        [...certify, '--as', old[0]!.username],
        lines(old[0]!.password),
      )
      expect(notAdmin.code).to.equal(4)
      const first = await runCli(
        [...certify, '--as', boss.username, '--json'],
        lines(boss.password),
      )
      expect(first.code, first.stderr).to.equal(0)
      expect(JSON.parse(first.stdout)).to.deep.equal({ certified: 2 })
      const again = await runCli(
        [...certify, '--as', boss.username],
        lines(boss.password),
      )
      expect([again.code, again.stdout.trim()]).to.deep.equal([
        0,
        'Every user already had a certified public key',
      ])
    })

    it('password change takes old and new from stdin; a wrong old password exits 4 and changes nothing', async () => {
      const bob = await clinician()
      const change = [
        'password',
        'change',
        '--username',
        bob.username,
        '--password-stdin',
      ]
      const wrong = await runCli(change, lines('not-it', 'new-password-xyz'))
      expect([wrong.code, wrong.stderr.trim()]).to.deep.equal([
        4,
        'emr-vault password change: authentication failed',
      ])
      const ok = await runCli(change, lines(bob.password, 'bob-cli-password-2'))
      expect(ok.code, ok.stderr).to.equal(0)
      const rekey = await runCli(
        [...change, '--rekey'],
        lines('bob-cli-password-2', 'bob-cli-password-3'),
      )
      expect(rekey.code, rekey.stderr).to.equal(0)
      ;(await vault.login(bob.username, 'bob-cli-password-3')).close()
      const missing = await runCli(change, lines('bob-cli-password-3'))
      expect(missing.code).to.equal(2)
    })
  })

  describe('access', () => {
    it('grant, access list, revoke, as a user whose password is read from stdin', async () => {
      const { owner: alice, session, patientId } = await patientOfNewClinician()
      session.close()
      const bob = await clinician()
      const other = await admin()
      const bobId = (await vault.findUser(bob.username)).id
      const grant = await runCli(
        [
          'grant',
          '--as',
          alice.username,
          '--patient',
          patientId,
          '--to',
          bob.username,
          '--password-stdin',
          '--json',
        ],
        lines(alice.password),
      )
      expect(grant.code, grant.stderr).to.equal(0)
      expect(JSON.parse(grant.stdout)).to.deep.equal({ created: true })
      const who = await runCli(
        [
          'access',
          'list',
          '--as',
          bob.username,
          '--patient',
          patientId,
          '--password-stdin',
          '--json',
        ],
        lines(bob.password),
      )
      expect(
        (JSON.parse(who.stdout) as { userId: string }[]).map((e) => e.userId),
      ).to.include(bobId)
      const mine = await runCli(
        ['access', 'list', '--as', bob.username, '--password-stdin', '--json'],
        lines(bob.password),
      )
      expect(JSON.parse(mine.stdout)).to.deep.equal([patientId])
      const denied = await runCli(
        [
          'access',
          'list',
          '--as',
          other.username,
          '--patient',
          patientId,
          '--password-stdin',
        ],
        lines(other.password),
      )
      expect(denied.code).to.equal(4)
      const revoke = await runCli(
        [
          'revoke',
          '--as',
          alice.username,
          '--patient',
          patientId,
          '--user',
          bob.username,
          '--password-stdin',
          '--json',
        ],
        lines(alice.password),
      )
      expect(revoke.code, revoke.stderr).to.equal(0)
      expect(JSON.parse(revoke.stdout)).to.include({ fromVersion: 1, toVersion: 2 })
      const badId = await runCli(
        [
          'grant',
          '--as',
          alice.username,
          '--patient',
          'nope',
          '--to',
          bob.username,
          '--password-stdin',
        ],
        lines(alice.password),
      )
      expect([badId.code, badId.stderr.trim()]).to.deep.equal([
        5,
        'emr-vault grant: "patientId" must be a UUID string',
      ])
    })

    it('a grantee that does not exist is reported before the password is asked', async () => {
      const { owner, session, patientId } = await patientOfNewClinician()
      session.close()
      const r = await runCli(
        [
          'grant',
          '--as',
          owner.username,
          '--patient',
          patientId,
          '--to',
          'nobody-here',
          '--password-stdin',
        ],
        lines(), // no password: asking for one would fail with exit 2
      )
      expect([r.code, r.stderr.trim()]).to.deep.equal([
        5,
        'emr-vault grant: user nobody-here not found',
      ])
    })

    it('rotate --patient, and rotate --all with the recovery key file; bad key files are refused', async () => {
      const { owner: alice, session, patientId } = await patientOfNewClinician()
      try {
        await session.rotatePatientKey(patientId) // v1 -> v2
        const boss = await admin()
        const one = await runCli(
          [
            'rotate',
            '--as',
            alice.username,
            '--patient',
            patientId,
            '--password-stdin',
            '--json',
          ],
          lines(alice.password),
        )
        expect(one.code, one.stderr).to.equal(0)
        expect(JSON.parse(one.stdout)).to.include({ fromVersion: 2, toVersion: 3 })

        const loose = join(dir, uniqueName('loose'))
        writeFileSync(loose, readFileSync(keyFile))
        chmodSync(loose, 0o644)
        const perm = await runCli(
          [
            'rotate',
            '--all',
            '--as',
            boss.username,
            '--recovery-key',
            loose,
            '--password-stdin',
          ],
          lines(boss.password),
        )
        expect(perm.code).to.equal(3)
        expect(perm.stderr).to.include(`run: chmod 600 ${loose}`)
        const other = join(dir, uniqueName('other'))
        const init = await runCli(['recovery', 'init', '--out', other])
        expect(init.code).to.equal(0)
        const mismatch = await runCli(
          [
            'rotate',
            '--all',
            '--as',
            boss.username,
            '--recovery-key',
            other,
            '--password-stdin',
          ],
          lines(boss.password),
        )
        expect([mismatch.code, mismatch.stderr.trim()]).to.deep.equal([
          3,
          'emr-vault rotate: the recovery private key does not match the configured recovery public key',
        ])

        const all = await runCli(
          [
            'rotate',
            '--all',
            '--as',
            boss.username,
            '--recovery-key',
            keyFile,
            '--password-stdin',
            '--json',
          ],
          lines(boss.password),
        )
        expect(all.code, all.stderr).to.equal(0)
        const result = JSON.parse(all.stdout.trim().split('\n').pop()!) as {
          rotated: number
          finished: boolean
        }
        expect(result.finished).to.equal(true)
        expect(result.rotated).to.be.greaterThan(0)
        expect(all.stderr).to.match(/rotate --all: \d+ patients rotated/)
        expect((await session.readPatient(patientId)).keyVersion).to.equal(4)
      } finally {
        session.close()
      }
    })

    it('rotate --all interrupted stops between two patients with 130; the next run finishes it', async () => {
      const boss = await admin()
      // Two patients at least, so that the run has a next one to stop before.
      for (let i = 0; i < 2; i++) (await patientOfNewClinician()).session.close()
      const interrupt = new AbortController()
      const InterruptedError = (await import('../../src/cli/interrupt.js'))
        .InterruptedError
      const args = [
        'rotate',
        '--all',
        '--as',
        boss.username,
        '--recovery-key',
        keyFile,
        '--password-stdin',
      ]
      // The first progress line comes after the first patient's rotation: Ctrl-C then.
      const stopped = await runCli(args, {
        ...lines(boss.password),
        signal: interrupt.signal,
        onStderr: (text) => {
          if (text.startsWith('rotate --all: ') && !interrupt.signal.aborted)
            interrupt.abort(new InterruptedError('SIGINT'))
        },
      })
      expect(stopped.code, stopped.stderr).to.equal(130)
      expect(stopped.stderr).to.match(/; interrupted: run again to finish\n$/)
      const finish = await runCli(args, lines(boss.password))
      expect(finish.code, finish.stderr).to.equal(0)
      expect(finish.stderr).to.match(/patients rotated \(resumed an unfinished run\)/)
    })
  })

  describe('recovery', () => {
    it('recovery init writes a 0600 key file and refuses to overwrite it', async () => {
      const file = join(dir, uniqueName('new-recovery'))
      const r = await runCli(['recovery', 'init', '--out', file, '--json'])
      expect(r.code).to.equal(0)
      expect(statSync(file).mode & 0o777).to.equal(0o600)
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string }
      expect(JSON.parse(r.stdout)).to.deep.equal({ file, publicKey: parsed.publicKey })
      const again = await runCli(['recovery', 'init', '--out', file])
      expect(again.code).to.equal(3)
      expect(again.stderr).to.match(/refusing to overwrite/)
    })

    it('recovery regrant gives a user who forgot the password a new one and their patients back', async () => {
      const { session, patientId } = await patientOfNewClinician()
      const bob = await clinician()
      const boss = await admin()
      await session.grant(patientId, (await vault.findUser(bob.username)).id)
      session.close()
      const r = await runCli(
        [
          'recovery',
          'regrant',
          '--as',
          boss.username,
          '--user',
          bob.username,
          '--recovery-key',
          keyFile,
          '--password-stdin',
        ],
        lines(boss.password, 'bob-recovered-password'),
      )
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.match(/1 patients re-granted/)
      const recovered = await vault.login(bob.username, 'bob-recovered-password')
      try {
        expect((await recovered.readPatient(patientId)).fullName).to.equal('Cli Patient')
      } finally {
        recovered.close()
      }
    })

    it('restores a patient to a user from the recovery key; takes an emergency key away', async () => {
      const { session, patientId } = await patientOfNewClinician()
      session.close()
      const boss = await admin()
      const bob = await clinician()
      const args = [
        'recovery',
        'restore',
        '--as',
        boss.username,
        '--patient',
        patientId,
        '--user',
        boss.username,
        '--recovery-key',
        keyFile,
        '--password-stdin',
        '--json',
      ]
      const first = await runCli(args, lines(boss.password))
      expect(first.code, first.stderr).to.equal(0)
      expect(JSON.parse(first.stdout)).to.deep.equal({ created: true })
      const again = await runCli(args, lines(boss.password))
      expect(JSON.parse(again.stdout)).to.deep.equal({ created: false })
      const revoke = await runCli(
        [
          'emergency',
          'revoke',
          '--as',
          boss.username,
          '--user',
          bob.username,
          '--password-stdin',
        ],
        lines(boss.password),
      )
      expect(revoke.code, revoke.stderr).to.equal(0)
      expect(revoke.stdout).to.match(/did not hold it|no longer holds/)
    })
  })

  describe('audit', () => {
    it('audit verify, report and export', async () => {
      const { session, patientId } = await patientOfNewClinician()
      const bob = await clinician()
      const bobId = (await vault.findUser(bob.username)).id
      await session.grant(patientId, bobId)
      await session.revoke(patientId, bobId)
      await session.rotatePatientKey(patientId)
      await session.readPatient(patientId)
      const creator = session.userId
      session.close()
      const verify = await runCli(['audit', 'verify', '--json'])
      expect(verify.code, verify.stderr).to.equal(0)
      expect(JSON.parse(verify.stdout)).to.include({ ok: true })
      const report = await runCli(['audit', 'report', '--patient', patientId, '--json'])
      const actions = (JSON.parse(report.stdout) as { action: string }[]).map(
        (e) => e.action,
      )
      expect(actions).to.include.members(['patient.create', 'grant', 'revoke', 'rotate'])
      const csv = await runCli([
        'audit',
        'export',
        '--format',
        'csv',
        '--patient',
        patientId,
      ])
      const csvLines = csv.stdout.trim().split('\n')
      expect(csvLines[0]).to.equal(
        'seq,occurred_at,actor_user_id,action,patient_id,target_user_id,outcome,reason,detail',
      )
      expect(csvLines.length).to.equal(actions.length + 1)
      const jsonl = await runCli(['audit', 'export', '--patient', patientId])
      expect(
        jsonl.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { action: string }).action),
      ).to.deep.equal(actions)
      // FHIR R4 AuditEvents, one a line, each valid, the same acts in the same order.
      const fhir = await runCli([
        'audit',
        'export',
        '--format',
        'fhir',
        '--patient',
        patientId,
      ])
      const events = fhir.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(
        events.map((e) => (e['subtype'] as { code: string }[]).at(-1)!.code),
      ).to.deep.equal(actions)
      for (const e of events)
        expect(fhirAuditEventProblems(e, [ACTION_SYSTEM])).to.deep.equal([])
      // The accounting of disclosures: the creator's read, under creation.
      const disclosures = await runCli(['audit', 'disclosures', '--patient', patientId])
      expect(disclosures.code, disclosures.stderr).to.equal(0)
      expect(disclosures.stdout).to.match(
        new RegExp(`^\\S+ ${creator} patient\\.read via creator$`, 'm'),
      )
      const asJson = await runCli([
        'audit',
        'disclosures',
        '--patient',
        patientId,
        '--json',
      ])
      const rows = asJson.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { userId: string; basis: { kind: string } })
      expect(rows.at(-1)).to.deep.include({ userId: creator })
      expect(rows.at(-1)!.basis.kind).to.equal('creator')
      expect((await runCli(['audit', 'disclosures'])).code).to.equal(2)
      // An anchor file: created by a good run, checked by the next; a head the chain
      // does not contain (as after a cut log with an old head restored) fails.
      const anchor = join(dir, uniqueName('audit-anchor'))
      expect((await runCli(['audit', 'verify', '--anchor', anchor])).code).to.equal(0)
      const recorded = JSON.parse(readFileSync(anchor, 'utf8')) as { lastSeq: string }
      expect(Number(recorded.lastSeq)).to.be.greaterThan(0)
      expect((await runCli(['audit', 'verify', '--anchor', anchor])).code).to.equal(0)
      // --resume checks only the rows after the anchor: none or a few here.
      const from = (JSON.parse(readFileSync(anchor, 'utf8')) as { lastSeq: string })
        .lastSeq
      const resumed = await runCli(['audit', 'verify', '--anchor', anchor, '--resume'])
      expect(resumed.code).to.equal(0)
      expect(resumed.stdout).to.match(
        new RegExp(`^OK: \\d+ rows after the anchor \\(seq ${from}\\), last seq \\d+`),
      )
      expect((await runCli(['audit', 'verify', '--resume'])).code).to.equal(2)
      writeFileSync(
        anchor,
        JSON.stringify({ lastSeq: '999999999', lastMac: 'ab'.repeat(32) }),
      )
      const cut = await runCli(['audit', 'verify', '--anchor', anchor])
      expect(cut.code).to.equal(1)
      expect(cut.stdout).to.match(/^FAIL/)
      writeFileSync(anchor, 'not json')
      expect((await runCli(['audit', 'verify', '--anchor', anchor])).code).to.equal(3)
      const badFormat = await runCli(['audit', 'export', '--format', 'xml'])
      expect(badFormat.code).to.equal(2)
    })
  })

  describe('chart', () => {
    /** A patient with one record; its chart reads verified. */
    async function chartOfNewPatient() {
      const { session, patientId } = await patientOfNewClinician()
      const recordId = await session.addRecord(patientId, {
        kind: 'note',
        occurredOn: '2026-12-01',
        title: 'first title',
        code: 'E11.9',
        body: 'body',
      })
      expect((await session.readChart(patientId)).state).to.equal('verified')
      return { session, patientId, recordId }
    }
    const stateOf = (patientId: string) =>
      own
        .db()('emr_vault_chart_states')
        .where('patient_id', rowIdFromString(patientId, 'p'))

    it('audit verify --patient: OK for a sound chart; a chart and state put back from a backup exit 1 naming state_rolled_back; an unknown id exits 5', async () => {
      const { session, patientId, recordId } = await chartOfNewPatient()
      const ok = await runCli(['audit', 'verify', '--patient', patientId])
      expect(ok.code, ok.stderr).to.equal(0)
      expect(ok.stdout).to.include(`OK: chart of patient ${patientId} verified`)

      const rid = rowIdFromString(recordId, 'r')
      const [oldRow] = await own.db()('clinical_records').where('id', rid)
      const [oldState] = await stateOf(patientId)
      await session.updateRecord(patientId, recordId, { title: 'allergy to penicillin' })
      await own
        .db()('clinical_records')
        .where('id', rid)
        .update({ title_enc: oldRow.title_enc })
      await stateOf(patientId).update(oldState)
      session.close()

      const rolledBack = await runCli([
        'audit',
        'verify',
        '--patient',
        patientId,
        '--json',
      ])
      expect(rolledBack.code).to.equal(1)
      const result = JSON.parse(rolledBack.stdout) as {
        ok: boolean
        chart: { ok: boolean; findings: { kind: string }[] }
      }
      // The chain itself is intact: only the chart fails.
      expect(result.ok).to.equal(true)
      expect(result.chart.ok).to.equal(false)
      expect(result.chart.findings.map((f) => f.kind)).to.deep.equal([
        'state_rolled_back',
      ])
      const text = await runCli(['audit', 'verify', '--patient', patientId])
      expect(text.stdout).to.match(/FAIL: chart of patient .*\n {2}state_rolled_back: /)

      const unknown = await runCli([
        'audit',
        'verify',
        '--patient',
        '00000000-0000-7000-8000-000000000000',
      ])
      expect(unknown.code).to.equal(5)
      expect((await runCli(['audit', 'verify', '--patient', 'nope'])).code).to.equal(5)
    })

    it('chart baseline: nothing to record, a deleted state refused (exit 1) until --reset, a non-admin exits 4', async () => {
      const boss = await admin()
      const other = await clinician()
      const { session, patientId } = await chartOfNewPatient()
      const baseline = ['chart', 'baseline', '--password-stdin']
      const notAdmin = await runCli(
        [...baseline, '--as', other.username],
        lines(other.password),
      )
      expect(notAdmin.code).to.equal(4)

      await stateOf(patientId).delete()
      const refused = await runCli(
        [...baseline, '--as', boss.username, '--json'],
        lines(boss.password),
      )
      expect(refused.code, refused.stderr).to.equal(1)
      expect(JSON.parse(refused.stdout)).to.deep.equal({
        recorded: 0,
        refused: [patientId],
      })
      const verify = await runCli(['audit', 'verify', '--patient', patientId])
      expect([verify.code, verify.stdout]).to.satisfy(
        ([code, out]: [number, string]) => code === 1 && out.includes('state_missing'),
      )

      const reset = await runCli(
        [...baseline, '--as', boss.username, '--reset', patientId],
        lines(boss.password),
      )
      expect([reset.code, reset.stdout.trim()]).to.deep.equal([
        0,
        `Recorded the chart state of patient ${patientId} again`,
      ])
      expect((await runCli(['audit', 'verify', '--patient', patientId])).code).to.equal(0)
      expect((await session.readChart(patientId)).state).to.equal('verified')
      session.close()
      const again = await runCli(
        [...baseline, '--as', boss.username],
        lines(boss.password),
      )
      expect([again.code, again.stdout.trim()]).to.deep.equal([
        0,
        'Every patient already had a chart state',
      ])
    })
  })

  describe('search', () => {
    it('search reindex: a patient without index values indexed again, a second run has nothing to do, a non-admin exits 4', async () => {
      const boss = await admin()
      const { session, patientId } = await patientOfNewClinician()
      const nationalId = `CLI ${Date.now()}`
      await session.updatePatient(patientId, { nationalId })
      const pid = rowIdFromString(patientId, 'p')
      const [indexed] = await own
        .db()('patients')
        .select('bidx_by_national_id')
        .where('id', pid)
      await own.db()('patients').update({ bidx_by_national_id: null }).where('id', pid)
      expect(
        (await session.searchPatients('byNationalId', { nationalId })).rows,
      ).to.deep.equal([])
      const reindex = ['search', 'reindex', '--recovery-key', keyFile, '--password-stdin']
      const other = await clinician()
      const notAdmin = await runCli(
        [...reindex, '--as', other.username],
        lines(other.password),
      )
      expect(notAdmin.code).to.equal(4)
      const run = await runCli(
        [...reindex, '--as', boss.username, '--json'],
        lines(boss.password),
      )
      expect(run.code, run.stderr).to.equal(0)
      const result = JSON.parse(run.stdout) as {
        finished: boolean
        patients: number
        conflicts: []
      }
      expect([result.finished, result.conflicts]).to.deep.equal([true, []])
      expect(result.patients).to.be.above(0)
      const [after] = await own
        .db()('patients')
        .select('bidx_by_national_id')
        .where('id', pid)
      expect(after).to.deep.equal(indexed)
      expect(
        (await session.searchPatients('byNationalId', { nationalId })).rows.map(
          (p) => p.id,
        ),
      ).to.deep.equal([patientId])
      const again = await runCli(
        [...reindex, '--as', boss.username],
        lines(boss.password),
      )
      expect([again.code, again.stderr]).to.satisfy(
        ([code, text]: [number, string]) =>
          code === 0 && text.includes('indexed 0 rows of 0 patients'),
      )
      session.close()
    })
  })

  describe('doctor', () => {
    it('PASS/WARN lines on the test server, FAIL and exit 1 with general_log ON', async () => {
      const ok = await runCli(['doctor', '--json'])
      const checks = JSON.parse(ok.stdout) as { id: string; status: string }[]
      expect(checks.find((c) => c.id === 'general_log')?.status).to.equal('PASS')
      expect(ok.code, ok.stdout).to.equal(checks.some((c) => c.status === 'FAIL') ? 1 : 0)
      const db = own.db()
      await db.raw('SET GLOBAL general_log = ON')
      try {
        const bad = await runCli(['doctor'])
        expect(bad.code).to.equal(1)
        expect(bad.stdout).to.match(/^FAIL .*general/m)
        expect(bad.stdout).to.match(/fix: /)
      } finally {
        await db.raw('SET GLOBAL general_log = OFF')
      }
    })

    it('ends with a summary line whose counts are those of the checks', async () => {
      const text = await runCli(['doctor'])
      const json = JSON.parse((await runCli(['doctor', '--json'])).stdout) as {
        status: string
      }[]
      const count = (s: string) => json.filter((c) => c.status === s).length
      const last = text.stdout.trimEnd().split('\n').pop()
      expect(last).to.equal(
        `doctor: ${json.length} checks, ${count('PASS')} PASS, ${count('WARN')} WARN, ${count('FAIL')} FAIL`,
      )
      expect(text.stdout.match(/^(PASS|WARN|FAIL) /gm)).to.have.length(json.length)
    })
  })

  describe('migrations and seed', () => {
    it('migrate reports the schema at the latest migration; seed loads the demo clinic once; production guards', async () => {
      const migrate = await runCli(['migrate', '--json'])
      expect(migrate.code, migrate.stderr).to.equal(0)
      expect(JSON.parse(migrate.stdout)).to.deep.include({ applied: [] })
      const seed = await runCli(['seed'])
      expect(seed.code, seed.stderr).to.equal(0)
      expect((await vault.findUser('alice')).roles).to.deep.equal(['clinician'])
      expect((await runCli(['seed'])).code).to.equal(0) // a second run changes nothing
      const prod = { env: { NODE_ENV: 'production' } }
      const seedProd = await runCli(['seed'], prod)
      expect(seedProd.code).to.equal(2)
      expect(seedProd.stderr).to.match(/does not run in production/)
      const rollbackProd = await runCli(['rollback'], prod)
      expect(rollbackProd.code).to.equal(2)
      expect(rollbackProd.stderr).to.match(/add --yes/)
      expect((await runCli(['migrate', '--json'])).code).to.equal(0)
    })
  })

  describe('server and local database', () => {
    it('a server that is down: one line, exit 3, nothing changed', async () => {
      const r = await runCli(['user', 'list'], {
        env: { EMR_VAULT_DB_HOST: '127.0.0.1', EMR_VAULT_DB_PORT: '1' },
      })
      expect(r.code).to.equal(3)
      expect(r.stderr.trim().split('\n')).to.have.length(1)
      expect(r.stderr).to.match(
        /cannot (reach|connect to) the database server \(ECONNREFUSED\)/,
      )
    })

    it('db status agrees with the local server state', async () => {
      const running = await localServerStatus(engineFromEnv())
      const r = await runCli(['db', 'status'])
      expect(r.code).to.equal(running ? 0 : 1)
      if (running) expect(r.stdout).to.include(`port:     ${running.port}`)
    })
  })
})
