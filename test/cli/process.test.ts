import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { expect } from '../support/chai.js'
import { observerConnection, testDb } from '../support/test-env.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'
import { exited, runEnv, spawnCli } from './run-cli.js'

/**
 * What only a real `emr-vault` process shows: exit codes on signals, directly and
 * through npx, a reader that goes away, the real standard input. Each test starts
 * the TypeScript entry point through tsx (a second or two on a loaded machine):
 * everything else runs in-process (cli.test.ts, test/unit/cli/).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

describe('emr-vault command line (child process)', function () {
  // Generous: starting tsx is slow under load; nothing here measures time.
  this.timeout(120_000)

  type Exit = Awaited<ReturnType<typeof exited>>

  /**
   * Holds the users table with LOCK TABLES … WRITE, starts a command that reads
   * it, and once one of the database's statements waits for that lock (the
   * command is then certainly running, its signal handlers installed long
   * before, in the middle of a statement, where Ctrl-C must still end it at
   * once), calls `interrupt`. Resolves with the command's exit.
   */
  async function interruptedWhileBlocked(
    start: () => ChildProcess,
    interrupt: (child: ChildProcess) => void,
  ): Promise<Exit> {
    const locker = await observerConnection()
    let child: ChildProcess | undefined
    try {
      await locker.query('LOCK TABLES users WRITE')
      child = start()
      const done = exited(child)
      let finished: Exit | undefined
      void done.then((r) => (finished = r))
      for (;;) {
        if (finished)
          throw new Error(
            `the command ended before it was interrupted: ${JSON.stringify(finished)}`,
          )
        const [rows] = (await testDb().raw(
          `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
            WHERE DB = DATABASE() AND STATE LIKE 'Waiting for table%lock'`,
        )) as [{ n: number }[]]
        if (Number(rows[0]!.n) > 0) break
        await sleep(100)
      }
      interrupt(child)
      return await done
    } finally {
      await locker.query('UNLOCK TABLES').catch(() => undefined)
      await locker.end()
    }
  }

  /** `emr-vault user list` as npx runs it: npm exec, a shell, then node. */
  const npxUserList = (options: { detached?: boolean } = {}) =>
    spawn(
      'npm',
      [
        'exec',
        '--no',
        '--',
        process.execPath,
        '--import',
        'tsx',
        'src/cli/main.ts',
        'user',
        'list',
      ],
      {
        ...options,
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...runEnv() },
      },
    )

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} while a statement waits on a lock: exit ${code} at once, one line`, async () => {
      const result = await interruptedWhileBlocked(
        () => spawnCli(['user', 'list']),
        (child) => child.kill(signal),
      )
      expect(result.signal).to.equal(null)
      expect(result.code, result.stderr).to.equal(code)
      expect(result.stderr).to.equal(`emr-vault user list: interrupted (${signal})\n`)
    })
  }

  it('through npx: Ctrl-C (SIGINT to the process group, as a terminal sends it) ends the command with 130', async () => {
    const result = await interruptedWhileBlocked(
      () => npxUserList({ detached: true }),
      (npx) => process.kill(-npx.pid!, 'SIGINT'),
    )
    expect(result.stderr).to.include('emr-vault user list: interrupted (SIGINT)')
    // npm hands on what its shell reports: the code 130, or death by the signal
    // itself, which a calling shell also reports as 130.
    expect(
      result.code === 130 || result.signal === 'SIGINT',
      JSON.stringify(result),
    ).to.equal(true)
  })

  it('through npx: SIGTERM to npm alone (its shell dies, the command is orphaned) still ends the command', async () => {
    // The exit is seen once the orphaned command has closed its stderr too.
    const result = await interruptedWhileBlocked(
      () => npxUserList(),
      (npx) => npx.kill('SIGTERM'),
    )
    expect(result.stderr).to.include('emr-vault user list: interrupted (SIGTERM)')
  })

  it('a reader that goes away (emr-vault --help | head -0) ends quietly with 0', async () => {
    const child = spawnCli(['--help'])
    child.stdout.destroy() // before the command writes anything
    const result = await exited(child)
    expect([result.code, result.stderr]).to.deep.equal([0, ''])
  })

  it('--version from the source tree; passwords from a real piped stdin without --password-stdin', async () => {
    const version = await exited(spawnCli(['--version']))
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string }
    expect([version.code, version.stdout]).to.deep.equal([0, `${pkg.version}\n`])

    const { vault } = testVault()
    const user = await registerTestUser(vault, 'cli-stdin')
    const child = spawnCli(['password', 'change', '--username', user.username])
    const done = exited(child)
    child.stdin.end(`${user.password}\nnew-password-from-a-pipe\n`)
    const result = await done
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal(`Password changed for ${user.username}\n`)
    ;(await vault.login(user.username, 'new-password-from-a-pipe')).close()
  })
})
