import { spawn } from 'node:child_process'

/**
 * Running external programs (apt-get, dpkg-deb, mysqld) without a shell: every
 * argument is passed as its own argv entry, so paths with spaces or quotes in a
 * clone's location cannot turn into shell syntax.
 */

export interface RunResult {
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Kill the program after this long; apt on a slow mirror needs minutes. */
  timeoutMs?: number
  /** Written to the program's standard input, then closed. */
  input?: string
}

/** A program that exited non-zero (or could not start), with what it printed. */
export class RunError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message)
    this.name = 'RunError'
  }
}

/** The last `count` non-empty lines of a program's output, for error messages. */
export function lastLines(text: string, count: number): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  return lines.slice(-count).join('\n')
}

export function run(
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
    let timedOut = false
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            child.kill('SIGKILL')
          }, opts.timeoutMs)
    if (opts.input !== undefined && child.stdin) {
      // A program that exits before reading all its input closes the pipe; the
      // exit code then says what happened, so the EPIPE itself is not an error.
      child.stdin.on('error', () => {})
      child.stdin.end(opts.input)
    }
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(new RunError(`Could not run ${file}: ${error.message}`, '', '', null))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const stdout = Buffer.concat(out).toString('utf8')
      const stderr = Buffer.concat(err).toString('utf8')
      if (code === 0) return resolve({ stdout, stderr })
      const how = timedOut
        ? `was killed after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`
        : signal
          ? `was killed by ${signal}`
          : `exited with code ${code}`
      reject(new RunError(`${file} ${how}`, stdout, stderr, code))
    })
  })
}
