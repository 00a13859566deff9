import {
  spawn,
  type ChildProcess,
  type ChildProcessWithoutNullStreams,
} from 'node:child_process'
import { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import {
  RUN_RECOVERY,
  TEST_AUDIT_KEY,
  TEST_SEARCH_KEY,
} from '../support/vault-fixture.js'

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** What the command sees of this test run: its audit key and recovery public key. */
export function runEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    EMR_VAULT_AUDIT_KEY: TEST_AUDIT_KEY.toString('base64'),
    EMR_VAULT_SEARCH_KEY: TEST_SEARCH_KEY.toString('base64'),
    EMR_VAULT_RECOVERY_PUBLIC_KEY: RUN_RECOVERY.publicKey.toString('base64'),
    ...extra,
  }
}

/** A stream that keeps what is written to it. */
function capture(
  onWrite?: (text: string) => void,
): Writable & { text: () => string; isTTY: false } {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(Buffer.from(chunk))
      onWrite?.(chunk.toString())
      done()
    },
  })
  return Object.assign(stream, {
    text: () => Buffer.concat(chunks).toString('utf8'),
    isTTY: false as const,
  })
}

export interface RunCliOptions {
  /** Standard input; it ends after this text. */
  readonly input?: string
  /** Environment for this run only, over the run's keys and database settings. */
  readonly env?: Record<string, string>
  /** Aborts the run as Ctrl-C would (reason: an InterruptedError). */
  readonly signal?: AbortSignal
  /** Standard input instead of `input`: a test that watches when it is read. */
  readonly stdin?: Readable
  /** Called with each write to stderr, as it happens. */
  readonly onStderr?: (text: string) => void
}

/**
 * Runs an `emr-vault` command in this process, against the test database (the
 * fixture's EMR_VAULT_DB_*) with the run's audit key and recovery public key,
 * and the cheap test KDF policy for the password hashes it makes. The
 * environment is set for the run and put back after it.
 */
export async function runCli(
  args: readonly string[],
  options: RunCliOptions = {},
): Promise<CliResult> {
  const env = runEnv(options.env)
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  const stdout = capture()
  const stderr = capture(options.onStderr)
  const stdin = options.stdin ?? Readable.from([options.input ?? ''])
  try {
    const { main } = await cli()
    const code = await main(
      args,
      { stdin, stdout, stderr },
      {
        kdfPolicy: TEST_KDF_POLICY,
        ...(options.signal ? { signal: options.signal } : {}),
      },
    )
    return { code, stdout: stdout.text(), stderr: stderr.text() }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/**
 * The CLI, loaded with import(). Mocha loads the test files as CommonJS (through
 * tsx), while the CLI loads most of itself with import() when a command runs,
 * which gives ES modules: imported statically here, the CLI would run with two
 * copies of its modules (two AsyncLocalStorage for the streams, two of each
 * error class). Loaded with import(), it is one copy, as in the real process.
 */
export const cli = () => import('../../src/cli/run.js')

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The real `emr-vault` process (the TypeScript entry point through tsx), for
 * what only a process has: signals, exit codes, a closed stdout, a real stdin.
 * It inherits the test database settings.
 */
export function spawnCli(
  args: readonly string[],
  options: { env?: Record<string, string> } = {},
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...runEnv(options.env) },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
}

/** The exit of a spawned CLI, with its output. */
export function exited(
  child: ChildProcess,
): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({ code: code ?? -1, signal, stdout, stderr }),
    )
  })
}
