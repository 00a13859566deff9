import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from '../support/chai.js'
import { engineFromEnv, localServerStatus } from '../../src/testing/local-db/index.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  registerTestUser,
  RUN_RECOVERY,
  testVault,
  uniqueName,
} from '../support/vault-fixture.js'
import { runCli } from './run-cli.js'

describe('emr-vault command line (child process)', function () {
  this.timeout(60_000)
  // `rotate --all` acts on every patient and `audit verify` reads the whole
  // chain: the suite and its child processes (EMR_VAULT_DB_NAME) use a database
  // of their own, so neither depends on what other suites left.
  const own = useOwnDatabase({ env: true })
  let vault: Vault
  const dir = mkdtempSync(join(tmpdir(), 'emr-vault-cli-'))
  const keyFile = join(dir, 'recovery.json')
  const names = {
    alice: uniqueName('cli-alice'),
    bob: uniqueName('cli-bob'),
    admin: uniqueName('cli-admin'),
  }
  const pw = {
    alice: 'alice-cli-password-1',
    bob: 'bob-cli-password-1',
    admin: 'admin-cli-password-1',
  }
  let patientId: string
  let alice: Session
  // The administrator who registers the CLI's users (made through the library).
  let boss: { username: string; password: string }

  before(async () => {
    ;({ vault } = testVault({ db: own.db() }))
    boss = await registerTestUser(vault, 'cli-boss', ['admin'])
    writeFileSync(
      keyFile,
      JSON.stringify({
        publicKey: RUN_RECOVERY.publicKey.toString('base64'),
        privateKey: RUN_RECOVERY.privateKey.toString('base64'),
      }),
      { mode: 0o600 },
    )
  })

  after(() => alice?.close())

  describe('usage', () => {
    it('--help lists every command group and exits 0', async () => {
      const r = await runCli(['--help'])
      expect(r.code).to.equal(0)
      for (const group of [
        'db start',
        'migrate',
        'user create',
        'password change',
        'grant',
        'revoke',
        'access list',
        'rotate',
        'recovery init',
        'audit verify',
        'audit export',
        'doctor',
      ]) {
        expect(r.stdout).to.include(group)
      }
      const sub = await runCli(['user', 'create', '--help'])
      expect(sub.code).to.equal(0)
      expect(sub.stdout).to.match(
        /Usage: emr-vault user create --as ADMIN --username NAME/,
      )
    })

    it('an unknown command, an unknown flag and a missing argument exit 2 with one line naming the problem', async () => {
      const unknown = await runCli(['frobnicate'])
      expect([unknown.code, unknown.stderr.trim()]).to.deep.equal([
        2,
        'emr-vault: unknown command "frobnicate". Run: emr-vault --help',
      ])
      const flag = await runCli(['user', 'list', '--colour'])
      expect(flag.code).to.equal(2)
      expect(flag.stderr).to.match(/Unknown option '--colour'/)
      const missing = await runCli(['user', 'create', '--name', 'X'], { input: 'pw\n' })
      expect(missing.code).to.equal(2)
      expect(missing.stderr).to.match(/--username is required/)
    })
  })

  describe('users and passwords', () => {
    it('user create / list / disable / enable, passwords from stdin', async () => {
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
          { input: `${boss.password}\n${pw[who]}\n` },
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
        { input: `${boss.password}\nwhatever-password\n` },
      )
      expect([dup.code, dup.stderr.trim()]).to.deep.equal([
        5,
        'emr-vault user create: "username" is already taken',
      ])

      const list = await runCli(['user', 'list', '--json'])
      const users = JSON.parse(list.stdout) as { username: string; disabled: boolean }[]
      expect(users.find((u) => u.username === names.bob)).to.include({ disabled: false })

      const asBoss = ['--as', boss.username, '--password-stdin']
      const bossInput = { input: `${boss.password}\n` }
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
        { input: `${pw.alice}\n` },
      )
      expect(notAdmin.code).to.equal(4)
      expect(
        (await runCli(['user', 'disable', '--username', names.bob, ...asBoss], bossInput))
          .code,
      ).to.equal(0)
      const disabled = JSON.parse(
        (await runCli(['user', 'list', '--json'])).stdout,
      ) as typeof users
      expect(disabled.find((u) => u.username === names.bob)).to.include({
        disabled: true,
      })
      expect(
        (await runCli(['user', 'enable', '--username', names.bob, ...asBoss], bossInput))
          .code,
      ).to.equal(0)
      expect(
        (
          await runCli(
            ['user', 'disable', '--username', 'nobody-here', ...asBoss],
            bossInput,
          )
        ).code,
      ).to.equal(5)
    })

    it('password change takes old and new from stdin; a wrong old password exits 4 and changes nothing', async () => {
      const wrong = await runCli(
        ['password', 'change', '--username', names.bob, '--password-stdin'],
        { input: 'not-it\nnew-password-xyz\n' },
      )
      expect([wrong.code, wrong.stderr.trim()]).to.deep.equal([
        4,
        'emr-vault password change: authentication failed',
      ])
      const ok = await runCli(
        ['password', 'change', '--username', names.bob, '--password-stdin'],
        { input: `${pw.bob}\nbob-cli-password-2\n` },
      )
      expect(ok.code, ok.stderr).to.equal(0)
      pw.bob = 'bob-cli-password-2'
      const rekey = await runCli(
        ['password', 'change', '--username', names.bob, '--rekey', '--password-stdin'],
        { input: `${pw.bob}\nbob-cli-password-3\n` },
      )
      expect(rekey.code, rekey.stderr).to.equal(0)
      pw.bob = 'bob-cli-password-3'
      ;(await vault.login(names.bob, pw.bob)).close()
      const missing = await runCli(
        ['password', 'change', '--username', names.bob, '--password-stdin'],
        { input: `${pw.bob}\n` },
      )
      expect(missing.code).to.equal(2)
    })
  })

  describe('access', () => {
    it('grant, access list, revoke, as a user whose password is read from stdin', async () => {
      alice = await vault.login(names.alice, pw.alice)
      patientId = await alice.createPatient({
        fullName: 'Cli Patient',
        dateOfBirth: '1990-09-09',
      })
      const bobId = (await vault.findUser(names.bob)).id
      const grant = await runCli(
        [
          'grant',
          '--as',
          names.alice,
          '--patient',
          patientId,
          '--to',
          names.bob,
          '--password-stdin',
          '--json',
        ],
        { input: `${pw.alice}\n` },
      )
      expect(grant.code, grant.stderr).to.equal(0)
      expect(JSON.parse(grant.stdout)).to.deep.equal({ created: true })
      const who = await runCli(
        [
          'access',
          'list',
          '--as',
          names.bob,
          '--patient',
          patientId,
          '--password-stdin',
          '--json',
        ],
        { input: `${pw.bob}\n` },
      )
      expect(
        (JSON.parse(who.stdout) as { userId: string }[]).map((e) => e.userId),
      ).to.include(bobId)
      const mine = await runCli(
        ['access', 'list', '--as', names.bob, '--password-stdin', '--json'],
        { input: `${pw.bob}\n` },
      )
      expect(JSON.parse(mine.stdout)).to.deep.equal([patientId])
      const denied = await runCli(
        [
          'access',
          'list',
          '--as',
          names.admin,
          '--patient',
          patientId,
          '--password-stdin',
        ],
        { input: `${pw.admin}\n` },
      )
      expect(denied.code).to.equal(4)
      const revoke = await runCli(
        [
          'revoke',
          '--as',
          names.alice,
          '--patient',
          patientId,
          '--user',
          names.bob,
          '--password-stdin',
          '--json',
        ],
        { input: `${pw.alice}\n` },
      )
      expect(revoke.code, revoke.stderr).to.equal(0)
      expect(JSON.parse(revoke.stdout)).to.include({ fromVersion: 1, toVersion: 2 })
      const badId = await runCli(
        [
          'grant',
          '--as',
          names.alice,
          '--patient',
          'nope',
          '--to',
          names.bob,
          '--password-stdin',
        ],
        { input: `${pw.alice}\n` },
      )
      expect([badId.code, badId.stderr.trim()]).to.deep.equal([
        5,
        'emr-vault grant: "patientId" must be a UUID string',
      ])
    })

    it('rotate --patient, and rotate --all with the recovery key file; bad key files are refused', async () => {
      const one = await runCli(
        [
          'rotate',
          '--as',
          names.alice,
          '--patient',
          patientId,
          '--password-stdin',
          '--json',
        ],
        { input: `${pw.alice}\n` },
      )
      expect(one.code, one.stderr).to.equal(0)
      expect(JSON.parse(one.stdout)).to.include({ fromVersion: 2, toVersion: 3 })

      const loose = join(dir, 'loose.json')
      writeFileSync(loose, readFileSync(keyFile))
      chmodSync(loose, 0o644)
      const perm = await runCli(
        [
          'rotate',
          '--all',
          '--as',
          names.admin,
          '--recovery-key',
          loose,
          '--password-stdin',
        ],
        { input: `${pw.admin}\n` },
      )
      expect(perm.code).to.equal(3)
      expect(perm.stderr).to.include(`run: chmod 600 ${loose}`)
      const other = join(dir, 'other.json')
      const init = await runCli(['recovery', 'init', '--out', other])
      expect(init.code).to.equal(0)
      const mismatch = await runCli(
        [
          'rotate',
          '--all',
          '--as',
          names.admin,
          '--recovery-key',
          other,
          '--password-stdin',
        ],
        { input: `${pw.admin}\n` },
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
          names.admin,
          '--recovery-key',
          keyFile,
          '--password-stdin',
          '--json',
        ],
        { input: `${pw.admin}\n` },
      )
      expect(all.code, all.stderr).to.equal(0)
      const result = JSON.parse(all.stdout.trim().split('\n').pop()!) as {
        rotated: number
        finished: boolean
      }
      expect(result.finished).to.equal(true)
      expect(result.rotated).to.be.greaterThan(0)
      expect(all.stderr).to.match(/rotate --all: \d+ patients rotated/)
      expect((await alice.readPatient(patientId)).keyVersion).to.equal(4)
    })
  })

  describe('recovery', () => {
    it('recovery init writes a 0600 key file and refuses to overwrite it', async () => {
      const file = join(dir, 'new-recovery.json')
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
      const bobId = (await vault.findUser(names.bob)).id
      await alice.grant(patientId, bobId)
      const r = await runCli(
        [
          'recovery',
          'regrant',
          '--as',
          names.admin,
          '--user',
          names.bob,
          '--recovery-key',
          keyFile,
          '--password-stdin',
        ],
        { input: `${pw.admin}\nbob-recovered-password\n` },
      )
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.match(/1 patients re-granted/)
      const bob = await vault.login(names.bob, 'bob-recovered-password')
      try {
        expect((await bob.readPatient(patientId)).fullName).to.equal('Cli Patient')
      } finally {
        bob.close()
      }
    })
  })

  describe('recovery restore and emergency revoke', () => {
    it('restores a patient to a user from the recovery key; takes an emergency key away', async () => {
      const args = [
        'recovery',
        'restore',
        '--as',
        names.admin,
        '--patient',
        patientId,
        '--user',
        names.admin,
        '--recovery-key',
        keyFile,
        '--password-stdin',
        '--json',
      ]
      const first = await runCli(args, { input: `${pw.admin}\n` })
      expect(first.code, first.stderr).to.equal(0)
      expect(JSON.parse(first.stdout)).to.deep.equal({ created: true })
      const again = await runCli(args, { input: `${pw.admin}\n` })
      expect(JSON.parse(again.stdout)).to.deep.equal({ created: false })
      const revoke = await runCli(
        [
          'emergency',
          'revoke',
          '--as',
          names.admin,
          '--user',
          names.bob,
          '--password-stdin',
        ],
        { input: `${pw.admin}\n` },
      )
      expect(revoke.code, revoke.stderr).to.equal(0)
      expect(revoke.stdout).to.match(/did not hold it|no longer holds/)
    })
  })

  describe('audit', () => {
    it('audit verify, report and export', async () => {
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
      const lines = csv.stdout.trim().split('\n')
      expect(lines[0]).to.equal(
        'seq,occurred_at,actor_user_id,action,patient_id,target_user_id,outcome,reason,detail',
      )
      expect(lines.length).to.equal(actions.length + 1)
      const jsonl = await runCli(['audit', 'export', '--patient', patientId])
      expect(
        jsonl.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { action: string }).action),
      ).to.deep.equal(actions)
      // An anchor file: created by a good run, checked by the next; a head the chain
      // does not contain (as after a cut log with an old head restored) fails.
      const anchor = join(dir, 'audit-anchor.json')
      expect((await runCli(['audit', 'verify', '--anchor', anchor])).code).to.equal(0)
      const recorded = JSON.parse(readFileSync(anchor, 'utf8')) as { lastSeq: string }
      expect(Number(recorded.lastSeq)).to.be.greaterThan(0)
      expect((await runCli(['audit', 'verify', '--anchor', anchor])).code).to.equal(0)
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
