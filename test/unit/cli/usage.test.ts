import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { expect } from 'chai'
import { generateUserKeyPair } from '../../../src/crypto/keypair.js'
import { runCli as runCliOnTestDb, type RunCliOptions } from '../../cli/run-cli.js'
import { RUN_RECOVERY } from '../../support/vault-fixture.js'

/**
 * The command line without a database: help, --version, usage errors, the
 * --json error shape, checks made before any password is asked, interruption.
 * The database settings point at a closed port, so a command that got past its
 * checks by mistake fails with exit 3 instead of reaching a server.
 */
const NO_DATABASE = {
  EMR_VAULT_DB_HOST: '127.0.0.1',
  EMR_VAULT_DB_PORT: '1',
  EMR_VAULT_DB_USER: 'nobody',
  EMR_VAULT_DB_NAME: 'none',
}

function runCli(args: readonly string[], options: RunCliOptions = {}) {
  return runCliOnTestDb(args, { ...options, env: { ...NO_DATABASE, ...options.env } })
}

/** A standard input that remembers whether anything read it (and then ends). */
function watchedStdin(onRead?: () => void): Readable & { touched: boolean } {
  const stream = Object.assign(
    new Readable({
      read() {
        stream.touched = true
        if (onRead) onRead()
        else this.push(null)
      },
    }),
    { touched: false },
  )
  return stream
}

const PACKAGE = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
) as { version: string }

const UUID = '0190a000-0000-7000-8000-000000000001'

/** The CLI's modules, loaded as the CLI loads them itself (see cli() in run-cli.ts). */
async function cliModules() {
  const [registry, interrupt, version] = await Promise.all([
    import('../../../src/cli/registry.js'),
    import('../../../src/cli/interrupt.js'),
    import('../../../src/cli/version.js'),
  ])
  return { ...registry, ...interrupt, ...version }
}

describe('emr-vault command line: usage (in-process, no database)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emr-vault-cli-usage-'))
  const keyFile = join(dir, 'recovery.json')
  const looseKey = join(dir, 'loose.json')
  const otherKey = join(dir, 'other.json')
  const notJson = join(dir, 'not-json')
  before(() => {
    const write = (file: string, pair: { publicKey: Buffer; privateKey: Buffer }) =>
      writeFileSync(
        file,
        JSON.stringify({
          publicKey: pair.publicKey.toString('base64'),
          privateKey: pair.privateKey.toString('base64'),
        }),
        { mode: 0o600 },
      )
    write(keyFile, RUN_RECOVERY)
    write(looseKey, RUN_RECOVERY)
    chmodSync(looseKey, 0o644)
    write(otherKey, generateUserKeyPair())
    writeFileSync(notJson, 'not json', { mode: 0o600 })
  })

  describe('--version', () => {
    it('prints the version in package.json and nothing else', async () => {
      const r = await runCli(['--version'])
      expect(r).to.deep.equal({ code: 0, stdout: `${PACKAGE.version}\n`, stderr: '' })
    })

    it('-v is not a version flag (it is verbose elsewhere): exit 2 naming --version', async () => {
      const r = await runCli(['-v'])
      expect(r.code).to.equal(2)
      expect(r.stderr).to.include('emr-vault --version')
    })

    it('finds the nearest package.json named emr-vault, from the source or the built layout', async () => {
      const { packageVersion } = await cliModules()
      const root = mkdtempSync(join(tmpdir(), 'emr-vault-version-'))
      const pkg = join(root, 'app', 'node_modules', 'emr-vault')
      mkdirSync(join(pkg, 'dist', 'src', 'cli'), { recursive: true })
      mkdirSync(join(pkg, 'src', 'cli'), { recursive: true })
      writeFileSync(
        join(root, 'app', 'package.json'),
        '{"name":"my-app","version":"1.0.0"}',
      )
      writeFileSync(join(pkg, 'package.json'), '{"name":"emr-vault","version":"9.8.7"}')
      // A package.json that is not emr-vault's on the way up is passed over.
      writeFileSync(join(pkg, 'dist', 'package.json'), '{"type":"module"}')
      for (const file of ['dist/src/cli/version.js', 'src/cli/version.ts']) {
        expect(packageVersion(pathToFileURL(join(pkg, file)))).to.equal('9.8.7')
      }
      expect(() => packageVersion(pathToFileURL(join(root, 'app', 'x.js')))).to.throw(
        /package.json not found/,
      )
    })
  })

  describe('help', () => {
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
        'audit disclosures',
        'chart baseline',
        'search reindex',
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

    it('help, --help and -h print the same overview; a bare emr-vault prints it with exit 2', async () => {
      const overview = (await runCli(['--help'])).stdout
      expect(overview).to.match(/^Usage: emr-vault <command> \[flags\]/)
      expect(await runCli(['help'])).to.deep.equal({
        code: 0,
        stdout: overview,
        stderr: '',
      })
      expect(await runCli(['-h'])).to.deep.equal({
        code: 0,
        stdout: overview,
        stderr: '',
      })
      expect(await runCli([])).to.deep.equal({ code: 2, stdout: overview, stderr: '' })
    })

    it('every command: help <command> and <command> --help print its usage and flags, exit 0', async () => {
      const { COMMANDS } = await cliModules()
      for (const c of COMMANDS) {
        const viaHelp = await runCli(['help', ...c.path])
        expect(viaHelp.code, c.path.join(' ')).to.equal(0)
        expect(viaHelp.stdout).to.match(
          new RegExp(`^Usage: emr-vault ${c.path.join(' ')}`),
        )
        for (const name of Object.keys(c.options ?? {}))
          expect(viaHelp.stdout, c.path.join(' ')).to.include(`--${name}`)
        expect(await runCli([...c.path, '--help'])).to.deep.equal(viaHelp)
        expect(await runCli([...c.path, '-h'])).to.deep.equal(viaHelp)
      }
    })

    it('every group: help <group>, <group> --help list its commands (exit 0); a bare group lists them with exit 2', async () => {
      const { COMMANDS } = await cliModules()
      const firstWords = [
        ...new Set(COMMANDS.filter((c) => c.path.length > 1).map((c) => c.path[0]!)),
      ]
      expect(firstWords).to.include.members([
        'db',
        'user',
        'audit',
        'recovery',
        'emergency',
      ])
      for (const g of firstWords) {
        const below = COMMANDS.filter((c) => c.path[0] === g && c.path.length > 1)
        const r = await runCli(['help', g])
        expect(r.code, g).to.equal(0)
        for (const c of below) expect(r.stdout).to.include(c.path.join(' '))
        expect(await runCli([g, '--help'])).to.deep.equal(r)
        if (COMMANDS.some((c) => c.path.join(' ') === g)) {
          // A command with commands below it (migrate, migrate status): its own
          // help, then theirs; the bare word runs the command.
          expect(r.stdout).to.match(new RegExp(`^Usage: emr-vault ${g} `))
          expect(r.stdout).to.match(/\nCommands:\n/)
        } else {
          expect(r.stdout).to.match(new RegExp(`^Usage: emr-vault ${g} <command>`))
          expect(await runCli([g])).to.deep.equal({ ...r, code: 2 })
        }
      }
    })

    it('an unknown command exits 2, naming the commands of its group when there is one', async () => {
      const unknown = await runCli(['help', 'frobnicate'])
      expect([unknown.code, unknown.stderr.trim()]).to.deep.equal([
        2,
        'emr-vault: unknown command "frobnicate". Run: emr-vault --help',
      ])
      const inGroup = await runCli(['user', 'frob'])
      expect(inGroup.code).to.equal(2)
      expect(inGroup.stdout).to.equal('')
      expect(inGroup.stderr).to.include(
        'unknown command "user frob"; user has: create, disable, enable, certify, list',
      )
    })
  })

  describe('errors', () => {
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

    it('what may be a password typed in the wrong place is never echoed', async () => {
      for (const args of [
        ['grant', '--as', 'alice', 'Hunter2-secret', '--patient', UUID, '--to', 'bob'],
        ['grant', '--Hunter2-secret!'],
        ['Hunter2-secret!'],
        ['user', 'Hunter2-secret!'],
      ]) {
        const r = await runCli(args)
        expect(r.code, args.join(' ')).to.equal(2)
        expect(r.stderr + r.stdout).not.to.include('Hunter2')
      }
    })

    it('with --json every error is one JSON line on stderr: {"error":{"code","message","exitCode"}}', async () => {
      const cases: [string[], { code: string; message: string; exitCode: number }][] = [
        [
          ['frobnicate', '--json'],
          {
            code: 'USAGE',
            message: 'unknown command "frobnicate". Run: emr-vault --help',
            exitCode: 2,
          },
        ],
        [
          ['user', 'create', '--name', 'X', '--json'],
          { code: 'USAGE', message: '--username is required', exitCode: 2 },
        ],
        [
          ['--json', 'grant', '--as', 'a', '--patient', 'nope', '--to', 'b'],
          {
            code: 'VALIDATION',
            message: '"patientId" must be a UUID string',
            exitCode: 5,
          },
        ],
        [
          ['rotate', '--all', '--as', 'a', '--recovery-key', join(dir, 'none'), '--json'],
          {
            code: 'CONFIGURATION',
            message: `recovery key file ${join(dir, 'none')} cannot be read`,
            exitCode: 3,
          },
        ],
        [
          ['user', 'list', '--json'],
          {
            code: 'DATABASE',
            message:
              'cannot connect to the database server (ECONNREFUSED); check EMR_VAULT_DB_* or start it with: npx emr-vault db start',
            exitCode: 3,
          },
        ],
        [
          ['user', '--json'],
          {
            code: 'USAGE',
            message: 'user needs a command. Run: emr-vault help user',
            exitCode: 2,
          },
        ],
      ]
      for (const [args, error] of cases) {
        const r = await runCli(args)
        expect(r.code, args.join(' ')).to.equal(error.exitCode)
        expect(r.stdout, args.join(' ')).to.equal('')
        expect(r.stderr.endsWith('\n') && r.stderr.split('\n').length === 2).to.equal(
          true,
        )
        expect(JSON.parse(r.stderr), args.join(' ')).to.deep.equal({ error })
      }
    })
  })

  describe('checks before any password is asked', () => {
    // Each: arguments with one mistake, the exit code, and what the one line says.
    // Standard input is watched: nothing may read it (a prompt would).
    const cases: [string[], number, RegExp][] = [
      [['user', 'create', '--name', 'X'], 2, /--username is required/],
      [
        ['user', 'create', '--as', 'a', '--username', 'Bad Name!', '--name', 'X'],
        5,
        /"username" must be 3–64/,
      ],
      [
        ['user', 'create', '--as', 'a', '--username', 'okname', '--name', '  '],
        2,
        /--name must not be blank/,
      ],
      [
        [
          'user',
          'create',
          '--as',
          'a',
          '--username',
          'okname',
          '--name',
          'X',
          '--role',
          'doctor',
        ],
        5,
        /"roles" must be a list of clinician, admin, emergency/,
      ],
      [['user', 'disable', '--username', 'x'], 2, /--as ADMIN is required/],
      [['user', 'enable', '--as', 'a'], 2, /--username is required/],
      [['user', 'certify'], 2, /--as ADMIN is required/],
      [['user', 'list', '--colour'], 2, /Unknown option '--colour'/],
      [['password', 'change'], 2, /--username is required/],
      [
        ['password', 'change', '--username'],
        2,
        /Option '--username' argument is ambiguous/,
      ],
      [
        ['grant', '--as', 'a', '--patient', 'nope', '--to', 'b'],
        5,
        /"patientId" must be a UUID string/,
      ],
      [['grant', '--as', 'a', '--patient', UUID], 2, /--to is required/],
      [['revoke', '--as', 'a', '--patient', UUID], 2, /--user is required/],
      [
        ['access', 'list', '--as', 'a', '--patient', '123'],
        5,
        /"patientId" must be a UUID string/,
      ],
      [['access', 'list', '--patient', UUID], 2, /--as is required/],
      [['access', 'list', '--as', 'a', '--patient', ''], 2, /--patient needs a value/],
      [['rotate', '--as', 'a'], 2, /give --patient ID or --all/],
      [['rotate', '--as', 'a', '--all'], 2, /--all needs --recovery-key FILE/],
      [
        ['rotate', '--as', 'a', '--patient', UUID, '--recovery-key', keyFile],
        2,
        /--recovery-key goes with --all/,
      ],
      [
        ['rotate', '--as', 'a', '--all', '--recovery-key', join(dir, 'none')],
        3,
        /cannot be read/,
      ],
      [['rotate', '--as', 'a', '--all', '--recovery-key', looseKey], 3, /run: chmod 600/],
      [
        ['rotate', '--as', 'a', '--all', '--recovery-key', otherKey],
        3,
        /does not match the configured recovery public key/,
      ],
      [['recovery', 'init'], 2, /--out is required/],
      [['recovery', 'init', '--out', keyFile], 3, /refusing to overwrite/],
      [
        ['recovery', 'init', '--out', join(dir, 'no-such-folder', 'k.json')],
        3,
        /does not exist/,
      ],
      [
        ['recovery', 'regrant', '--as', 'a', '--user', 'b'],
        2,
        /--recovery-key is required/,
      ],
      [
        ['recovery', 'regrant', '--as', 'a', '--user', 'b', '--recovery-key', notJson],
        3,
        /is not an emr-vault recovery key file/,
      ],
      [
        [
          'recovery',
          'restore',
          '--as',
          'a',
          '--user',
          'b',
          '--recovery-key',
          keyFile,
          '--patient',
          'x',
        ],
        5,
        /"patientId" must be a UUID string/,
      ],
      [['emergency', 'setup', '--as', 'a'], 2, /--recovery-key is required/],
      [
        ['emergency', 'grant', '--as', 'a', '--recovery-key', keyFile],
        2,
        /--user is required/,
      ],
      [['emergency', 'revoke', '--user', 'b'], 2, /--as ADMIN is required/],
      [['emergency', 'rotate', '--as', 'a'], 2, /--recovery-key is required/],
      [['audit', 'verify', '--anchor', notJson], 3, /is not an audit anchor file/],
      [['audit', 'verify', '--patient', 'x'], 5, /"patientId" must be a UUID string/],
      [['chart', 'baseline', '--reset', UUID], 2, /--as ADMIN is required/],
      [
        ['chart', 'baseline', '--as', 'a', '--reset', 'x'],
        5,
        /"patientId" must be a UUID string/,
      ],
      [['audit', 'report', '--from', 'yesterday'], 2, /--from must be a date/],
      [['audit', 'report', '--limit', '0'], 2, /--limit must be 1 to 10000/],
      [['audit', 'report', '--action', 'frob'], 2, /--action must be one of: /],
      [['audit', 'report', '--patient', 'x'], 5, /"patientId" must be a UUID string/],
      [['audit', 'export', '--format', 'xml'], 2, /--format must be csv or jsonl/],
      [['audit', 'export', '--to', '31/12/2026'], 2, /--to must be a date/],
      [
        [
          'audit',
          'disclosures',
          '--patient',
          '0190f0f0-0000-7000-8000-000000000000',
          '--from',
          '31/12/2026',
        ],
        2,
        /--from must be a date/,
      ],
      [['doctor', '--app-user', '@host'], 2, /--app-user must be an account/],
      [['search', 'reindex', '--as', 'a'], 2, /--recovery-key is required/],
      [
        [
          'search',
          'reindex',
          '--as',
          'a',
          '--recovery-key',
          keyFile,
          '--tables',
          'no-such.js',
        ],
        2,
        /--tables no-such.js does not exist/,
      ],
      [
        ['convert', 'plaintext', '--tables', 'no-such.js'],
        2,
        /--tables no-such.js does not exist/,
      ],
      [
        ['convert', 'legacy', '--tables', 'package.json', '--table', 'Meds'],
        2,
        /--table must be a lower-case SQL name/,
      ],
      [
        [
          'convert',
          'legacy',
          '--tables',
          'package.json',
          '--table',
          'meds',
          '--field',
          'drug',
          '--from',
          'old',
          '--key-encoding',
          'rot13',
        ],
        2,
        /--key-encoding must be text or hex or base64/,
      ],
      [
        [
          'convert',
          'drop-plaintext',
          '--tables',
          'package.json',
          '--table',
          'meds',
          '--column',
          'Drug',
        ],
        2,
        /--column must be a lower-case SQL name/,
      ],
    ]

    for (const [args, code, message] of cases) {
      it(`${args.join(' ')} → exit ${code}`, async () => {
        const stdin = watchedStdin()
        const r = await runCli([...args, '--password-stdin'], { stdin })
        expect(r.code, r.stderr).to.equal(code)
        expect(r.stderr).to.match(message)
        expect(r.stdout).to.equal('')
        expect(stdin.touched, 'standard input was read').to.equal(false)
      })
    }

    it('every command with a flag that takes a value has a case above', async () => {
      const { COMMANDS, findCommand } = await cliModules()
      const covered = new Set(cases.map(([args]) => findCommand(args)?.command))
      const withValues = COMMANDS.filter((c) =>
        Object.values(c.options ?? {}).some((f) => f.type === 'string'),
      )
      for (const c of withValues) expect(covered.has(c), c.path.join(' ')).to.equal(true)
    })
  })

  describe('interruption', () => {
    const interruptAtPrompt = async (signal: 'SIGINT' | 'SIGTERM', json = false) => {
      const { InterruptedError } = await cliModules()
      const controller = new AbortController()
      // Ctrl-C arrives while the command waits for a password: its first read.
      const stdin = watchedStdin(() => controller.abort(new InterruptedError(signal)))
      return runCli(
        ['password', 'change', '--username', 'someone', ...(json ? ['--json'] : [])],
        { stdin, signal: controller.signal },
      )
    }

    it('Ctrl-C (SIGINT) at a password prompt ends the run with 130, SIGTERM with 143', async () => {
      const int = await interruptAtPrompt('SIGINT')
      expect([int.code, int.stderr.trim()]).to.deep.equal([
        130,
        'emr-vault password change: interrupted (SIGINT)',
      ])
      const term = await interruptAtPrompt('SIGTERM')
      expect([term.code, term.stderr.trim()]).to.deep.equal([
        143,
        'emr-vault password change: interrupted (SIGTERM)',
      ])
      const json = await interruptAtPrompt('SIGINT', true)
      expect(JSON.parse(json.stderr)).to.deep.equal({
        error: { code: 'INTERRUPTED', message: 'interrupted (SIGINT)', exitCode: 130 },
      })
    })

    /** A terminal as standard input (raw mode is a no-op) that types `keys` when first read. */
    function terminalTyping(keys: string): Readable & { isTTY: true } {
      let typed = false
      return Object.assign(
        new Readable({
          read() {
            if (!typed) this.push(keys)
            typed = true
          },
        }),
        { isTTY: true as const, setRawMode: () => undefined },
      )
    }

    it('Ctrl-C typed at a hidden prompt (a key in raw mode, no signal) ends with 130; Ctrl-D with 2', async () => {
      const args = ['password', 'change', '--username', 'someone']
      const ctrlC = await runCli(args, { stdin: terminalTyping('\x03') })
      expect(ctrlC.code).to.equal(130)
      expect(ctrlC.stderr).to.include('emr-vault password change: interrupted (SIGINT)')
      const ctrlD = await runCli(args, { stdin: terminalTyping('\x04') })
      expect(ctrlD.code).to.equal(2)
      expect(ctrlD.stderr).to.include('no answer to "current password for someone:"')
    })

    it('a run interrupted before its command starts does not start it', async () => {
      const { InterruptedError } = await cliModules()
      const controller = new AbortController()
      controller.abort(new InterruptedError('SIGTERM'))
      const stdin = watchedStdin()
      const r = await runCli(['password', 'change', '--username', 'someone'], {
        stdin,
        signal: controller.signal,
      })
      expect(r.code).to.equal(143)
      expect(stdin.touched).to.equal(false)
    })
  })
})
