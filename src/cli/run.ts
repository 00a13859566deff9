import { parseArgs } from 'node:util'
import type { KdfPolicy } from '../crypto/kdf-policy.js'
import { EXIT, UsageError, type Args, type Command, type Flags } from './command.js'
import { errorJson, reportOf } from './error-report.js'
import { commandHelp, groupHelp, overview, usageOf } from './help.js'
import { interruption, rejectOnAbort } from './interrupt.js'
import { err, out, processIo, withIo, type CliIo } from './io.js'
import { commandsUnder, findCommand } from './registry.js'
import { packageVersion } from './version.js'

/**
 * The emr-vault command line as a function: parses `argv`, checks the flags,
 * runs the command and returns its exit code. Nothing happens on import, so a
 * test runs commands in-process with its own streams; src/cli/main.ts is the
 * process's entry point (signals, exit code).
 */

export interface RunOptions {
  /** Aborted with an InterruptedError on Ctrl-C, SIGINT or SIGTERM. */
  readonly signal?: AbortSignal
  /**
   * The cost of the password hashes the vault makes (default: the production
   * policy). Only a caller of main() can choose it, never the command line:
   * tests pass a cheap one, as they do to the library.
   */
  readonly kdfPolicy?: KdfPolicy
}

/** Flags every command takes. */
const GLOBAL_FLAGS = ['--json', '--password-stdin', '--help', '-h'] as const

export function main(
  argv: readonly string[],
  io: CliIo = processIo(),
  options: RunOptions = {},
): Promise<number> {
  return withIo(io, () => dispatch(argv, options))
}

/** Words that name a command may be echoed; anything else may be a password typed in the wrong place. */
function showable(words: readonly string[]): boolean {
  return words.every((w) => /^[a-z-]{1,20}$/.test(w))
}

/**
 * The command words: the leading arguments that are not flags (global flags
 * may come first, as in `emr-vault --json user list`), up to the first flag.
 */
function splitCommandWords(args: readonly string[]): {
  words: string[]
  flags: string[]
} {
  const words: string[] = []
  let i = 0
  for (; i < args.length; i++) {
    const a = args[i]!
    if ((GLOBAL_FLAGS as readonly string[]).includes(a)) continue
    if (a.startsWith('-')) break
    words.push(a)
  }
  const leadingGlobals = args
    .slice(0, i)
    .filter((a) => (GLOBAL_FLAGS as readonly string[]).includes(a))
  return { words, flags: [...leadingGlobals, ...args.slice(i)] }
}

async function dispatch(argv: readonly string[], options: RunOptions): Promise<number> {
  const dashDash = argv.indexOf('--')
  const before = dashDash < 0 ? [...argv] : argv.slice(0, dashDash)
  const json = before.includes('--json')
  const helpAsked = before.includes('--help') || before.includes('-h')
  const { words, flags } = splitCommandWords(before)

  /** A usage error before a command is known, as one line (or JSON). */
  const usage = (message: string): number => {
    if (json) err(errorJson({ code: 'USAGE', message, exitCode: EXIT.usage }))
    else err(`emr-vault: ${message}`)
    return EXIT.usage
  }
  const unknown = (w: readonly string[]): string =>
    `unknown command${showable(w) ? ` "${w.join(' ')}"` : ''}. Run: emr-vault --help`

  if (words[0] === 'help') return help(words.slice(1), usage, unknown)
  if (words.length === 0) {
    if (before.length === 0) {
      out(overview())
      return EXIT.usage
    }
    if (helpAsked) {
      out(overview())
      return EXIT.ok
    }
    if (flags.includes('--version')) {
      try {
        out(packageVersion())
        return EXIT.ok
      } catch {
        err('emr-vault: the version is unknown (no emr-vault package.json above the CLI)')
        return EXIT.internal
      }
    }
    if (flags.some((f) => f === '-v' || f === '-V'))
      return usage('the version is printed by: emr-vault --version')
    return usage('no command given. Run: emr-vault --help')
  }

  const found = findCommand(words)
  // Extra words after a command that has commands below it (`migrate statu`) are
  // a mistyped command; after any other command, a stray argument (refused when
  // the flags are parsed).
  if (
    found &&
    (found.rest.length === 0 || commandsUnder(found.command.path).length === 0)
  ) {
    if (helpAsked) {
      out(commandHelp(found.command))
      return EXIT.ok
    }
    return runCommand(
      found.command,
      found.rest,
      flags,
      dashDash < 0 ? undefined : argv.slice(dashDash + 1),
      { json, signal: options.signal ?? new AbortController().signal, options },
    )
  }
  if (commandsUnder(words).length > 0) {
    // A group without its command (`emr-vault user`): the group's commands, as
    // help when asked for, else as a usage error (a script missing a word fails).
    if (helpAsked || !json) out(groupHelp(words))
    if (helpAsked) return EXIT.ok
    return json
      ? usage(
          `${words.join(' ')} needs a command. Run: emr-vault help ${words.join(' ')}`,
        )
      : EXIT.usage
  }
  const group = words.slice(0, 1)
  if (commandsUnder(group).length > 0 && showable(words)) {
    const names = commandsUnder(group).map((c) => c.path.slice(1).join(' '))
    return usage(
      `unknown command "${words.join(' ')}"; ${group[0]} has: ${names.join(', ')}. Run: emr-vault help ${group[0]}`,
    )
  }
  return usage(unknown(words))
}

/** `emr-vault help [command words]`. */
function help(
  words: readonly string[],
  usage: (message: string) => number,
  unknown: (words: readonly string[]) => string,
): number {
  if (words.length === 0) {
    out(overview())
    return EXIT.ok
  }
  const found = findCommand(words)
  if (found && found.rest.length === 0) {
    out(commandHelp(found.command))
    return EXIT.ok
  }
  if (commandsUnder(words).length > 0) {
    out(groupHelp(words))
    return EXIT.ok
  }
  return usage(unknown(words))
}

/** The message of a parseArgs error, without echoing what does not look like a flag name. */
function parseProblem(e: unknown): string {
  const message = (e as Error).message.split('\n')[0]!.split('. To specify')[0]!
  const unknownOption = /^Unknown option '([^']*)'/.exec(message)
  if (unknownOption && !/^--?[a-z][a-z0-9-]{0,30}$/.test(unknownOption[1]!))
    // Not echoed: it may be a password typed in the wrong place.
    return 'Unknown option (not shown: it is not a flag name; passwords go on stdin)'
  return message
}

function parse(command: Command, flags: string[]): Args {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; multiple?: boolean; short?: string }
  > = {
    json: { type: 'boolean' },
    'password-stdin': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }
  for (const [name, f] of Object.entries(command.options ?? {}))
    options[name] = { type: f.type, ...(f.multiple ? { multiple: true } : {}) }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: flags, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError(parseProblem(e))
  }
  if (parsed.positionals.length > 0)
    // Not echoed: it may be a password typed in the wrong place.
    throw new UsageError(
      'unexpected argument (values go after their --flag; passwords on stdin)',
    )
  return parsed.values as Args
}

/** Required flags and the form of each value, then the command's own checks: all before any prompt. */
async function validate(command: Command, args: Args): Promise<void> {
  const flags: Flags = command.options ?? {}
  for (const [name, f] of Object.entries(flags)) {
    const value = args[name]
    if (value === undefined) {
      if (f.required)
        throw new UsageError(
          typeof f.required === 'string' ? f.required : `--${name} is required`,
        )
      continue
    }
    if (value === '') throw new UsageError(`--${name} needs a value`)
    if (f.check && typeof value === 'string') await f.check(value, name)
  }
  await command.validate?.(args)
}

async function runCommand(
  command: Command,
  rest: readonly string[],
  flags: string[],
  afterDashDash: string[] | undefined,
  { json, signal, options }: { json: boolean; signal: AbortSignal; options: RunOptions },
): Promise<number> {
  const name = command.path.join(' ')
  const fail = (e: unknown): number => {
    const report = reportOf(e)
    if (json) err(errorJson(report))
    else {
      err(`emr-vault ${name}: ${report.message}`)
      if (e instanceof UsageError) err(`Usage: ${usageOf(command)}`)
    }
    return report.exitCode
  }
  let args: Args
  try {
    if (rest.length > 0)
      throw new UsageError(
        'unexpected argument (values go after their --flag; passwords on stdin)',
      )
    args = parse(command, flags)
    if (afterDashDash) args['_'] = afterDashDash
    await validate(command, args)
    if (signal.aborted) throw interruption(signal)
  } catch (e) {
    return fail(e)
  }
  // The runtime brings knex, the services and the configuration: loaded only
  // when a command runs, so that help, --version and usage errors start fast.
  const { CliRuntime } = await import('./runtime.js')
  const rt = new CliRuntime({
    json,
    passwordStdin: args['password-stdin'] === true,
    signal,
    kdfPolicy: options.kdfPolicy,
  })
  try {
    if (command.handlesInterrupt) return await command.run(rt, args)
    const running = command.run(rt, args)
    // Once interrupted the run is abandoned; whatever it throws later is not reported.
    running.catch(() => undefined)
    const stop = rejectOnAbort(signal)
    try {
      return await Promise.race([running, stop.promise])
    } finally {
      stop.dispose()
    }
  } catch (e) {
    return fail(e)
  } finally {
    const closing = rt.close().catch(() => undefined)
    if (signal.aborted) {
      // A statement may still be running (waiting on a lock): the pool would wait
      // for it. Give idle connections a moment to close; the server rolls back
      // whatever the rest were doing when the process exits.
      await Promise.race([closing, new Promise((r) => setTimeout(r, 500).unref())])
    } else await closing
  }
}
