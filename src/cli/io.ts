import { AsyncLocalStorage } from 'node:async_hooks'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { InterruptedError } from './interrupt.js'

/**
 * Terminal input and output for the CLI. Passwords are read from standard input
 * (one per line, for scripts) or prompted for without echo on a terminal; they
 * are never taken as flags (they would land in shell history and `ps`).
 *
 * The streams are those of the run in progress: `main(argv, io)` binds them for
 * everything the command does, so a test runs a command in-process with its own
 * stdin and captured output, and commands just call out(), err(), readSecret().
 */

type Tty = { isTTY?: boolean }

export interface CliIo {
  readonly stdin: NodeJS.ReadableStream & Tty
  readonly stdout: NodeJS.WritableStream & Tty
  readonly stderr: NodeJS.WritableStream & Tty
}

export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }
}

/** The streams of one run, and its position in standard input. */
class Streams {
  #stdinLines: AsyncIterator<string> | undefined

  constructor(readonly io: CliIo) {}

  async nextStdinLine(): Promise<string | undefined> {
    this.#stdinLines ??= createInterface({
      input: this.io.stdin,
      crlfDelay: Infinity,
    })[Symbol.asyncIterator]()
    const next = await this.#stdinLines.next()
    return next.done ? undefined : next.value
  }
}

const current = new AsyncLocalStorage<Streams>()
let processStreams: Streams | undefined

function streams(): Streams {
  return current.getStore() ?? (processStreams ??= new Streams(processIo()))
}

/** Runs `fn` with `io` as the streams of out(), err(), readSecret() and the progress line. */
export function withIo<T>(io: CliIo, fn: () => Promise<T>): Promise<T> {
  return current.run(new Streams(io), fn)
}

export function stdinIsTerminal(): boolean {
  return Boolean(streams().io.stdin.isTTY)
}

export function stderrIsTerminal(): boolean {
  return Boolean(streams().io.stderr.isTTY)
}

/** A prompt on stderr whose answer is not echoed. */
async function promptHidden(io: CliIo, question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _enc, done) => done() })
  const rl = createInterface({ input: io.stdin, output: muted, terminal: true })
  io.stderr.write(question)
  try {
    return await new Promise<string>((resolve, reject) => {
      let answered = false
      // The terminal is in raw mode while the prompt waits, so Ctrl-C arrives as
      // a keystroke, not as a signal: end the run as a SIGINT would (exit 130).
      rl.on('SIGINT', () => reject(new InterruptedError('SIGINT')))
      // Ctrl-D, or the terminal gone: no answer will come.
      rl.on('close', () => {
        if (!answered) reject(new MissingInputError(`no answer to "${question.trim()}"`))
      })
      rl.question('', (answer) => {
        answered = true
        resolve(answer)
      })
    })
  } finally {
    rl.close()
    io.stderr.write('\n')
  }
}

/**
 * A secret: from the next line of standard input when it is not a terminal (or
 * `fromStdin`), else from a hidden prompt.
 */
export async function readSecret(label: string, fromStdin: boolean): Promise<string> {
  const s = streams()
  if (fromStdin || !s.io.stdin.isTTY) {
    const line = await s.nextStdinLine()
    if (line === undefined)
      throw new MissingInputError(`expected ${label} on standard input`)
    return line
  }
  return promptHidden(s.io, `${label}: `)
}

export class MissingInputError extends Error {}

/** A value for --json output: Buffers as hex, bigint as string, Dates as ISO. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') {
      return Buffer.from((v as { data: number[] }).data).toString('hex')
    }
    return v
  })
}

export function out(line = ''): void {
  streams().io.stdout.write(`${line}\n`)
}

/** Like {@link out}, but waits when the pipe is full, so a long export does not pile up in memory. */
export async function outStreamed(line: string): Promise<void> {
  const stdout = streams().io.stdout
  if (!stdout.write(`${line}\n`)) {
    await new Promise<void>((resolve) => stdout.once('drain', resolve))
  }
}

/** Text for stderr, written as given (a progress bar rewrites its line with \r). */
export function errRaw(text: string): void {
  streams().io.stderr.write(text)
}

export function err(line: string): void {
  errRaw(`${line}\n`)
}
