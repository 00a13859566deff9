import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'

/**
 * Terminal input and output for the CLI. Passwords are read from standard input
 * (one per line, for scripts) or prompted for without echo on a terminal; they
 * are never taken as flags (they would land in shell history and `ps`).
 */

let stdinLines: AsyncIterator<string> | undefined

async function nextStdinLine(): Promise<string | undefined> {
  stdinLines ??= createInterface({ input: process.stdin, crlfDelay: Infinity })[
    Symbol.asyncIterator
  ]()
  const next = await stdinLines.next()
  return next.done ? undefined : next.value
}

/** A prompt on stderr whose answer is not echoed. */
async function promptHidden(question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _enc, done) => done() })
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true })
  process.stderr.write(question)
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve))
  } finally {
    rl.close()
    process.stderr.write('\n')
  }
}

/**
 * A secret: from the next line of standard input when it is not a terminal (or
 * `fromStdin`), else from a hidden prompt.
 */
export async function readSecret(label: string, fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const line = await nextStdinLine()
    if (line === undefined)
      throw new MissingInputError(`expected ${label} on standard input`)
    return line
  }
  return promptHidden(`${label}: `)
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
  process.stdout.write(`${line}\n`)
}

/** Like {@link out}, but waits when the pipe is full, so a long export does not pile up in memory. */
export async function outStreamed(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) {
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve))
  }
}

export function err(line: string): void {
  process.stderr.write(`${line}\n`)
}
