import { parseArgs } from 'node:util'
import {
  AccessDeniedError,
  AuthenticationError,
  ConfigurationError,
  DatabaseError,
  IntegrityError,
  NotFoundError,
  ValidationError,
} from '../errors/index.js'
import { EXIT, UsageError, type Command } from './command.js'
import { accessCommands } from './commands/access.js'
import { auditCommands } from './commands/audit.js'
import { databaseCommands } from './commands/database.js'
import { doctorCommands } from './commands/doctor.js'
import { recoveryCommands } from './commands/recovery.js'
import { userCommands } from './commands/users.js'
import { err, MissingInputError, out } from './io.js'
import { CliRuntime } from './runtime.js'

const COMMANDS: readonly Command[] = [
  ...databaseCommands,
  ...userCommands,
  ...accessCommands,
  ...recoveryCommands,
  ...auditCommands,
  ...doctorCommands,
]

const GLOBAL_HELP = [
  'Global flags:',
  '  --json             machine-readable output where a script would parse it',
  '  --password-stdin   read passwords from standard input, one per line (for scripts)',
  '  --help             help for a command',
  '',
  'Exit codes: 0 ok, 1 a check failed, 2 usage, 3 configuration or server unreachable,',
  '4 authentication or access denied, 5 invalid input or not found, 6 integrity error,',
  '130 interrupted (run again to finish).',
]

function usageOf(c: Command): string {
  return `emr-vault ${c.path.join(' ')} ${c.usage}`.trimEnd()
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length))
  return [
    'Usage: emr-vault <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    ...GLOBAL_HELP,
  ].join('\n')
}

/** The command named by the longest matching prefix of `words`. */
function find(
  words: readonly string[],
): { command: Command; rest: string[] } | undefined {
  for (const c of [...COMMANDS].sort((a, b) => b.path.length - a.path.length)) {
    if (c.path.every((w, i) => words[i] === w))
      return { command: c, rest: words.slice(c.path.length) }
  }
  return undefined
}

/** Exit code and one line for an error; never a stack, never a value. */
function describe(e: unknown): { code: number; message: string } {
  if (e instanceof UsageError) return { code: EXIT.usage, message: e.message }
  if (e instanceof MissingInputError) return { code: EXIT.usage, message: e.message }
  if (e instanceof ConfigurationError)
    return { code: EXIT.configuration, message: e.message }
  if (e instanceof AuthenticationError || e instanceof AccessDeniedError) {
    return { code: EXIT.denied, message: e.message }
  }
  if (e instanceof ValidationError || e instanceof NotFoundError)
    return { code: EXIT.invalid, message: e.message }
  if (e instanceof IntegrityError) return { code: EXIT.integrity, message: e.message }
  if (e instanceof DatabaseError) {
    const unreachable = [
      'ECONNREFUSED',
      'ENOTFOUND',
      'ETIMEDOUT',
      'PROTOCOL_CONNECTION_LOST',
    ].includes(e.driverCode)
    return {
      code: EXIT.configuration,
      message: unreachable
        ? `cannot reach the database server (${e.driverCode}); check EMR_VAULT_DB_HOST/PORT or start it with: npx emr-vault db start`
        : e.message,
    }
  }
  const code = (e as { code?: unknown } | null)?.code
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'ER_ACCESS_DENIED_ERROR'
  ) {
    return {
      code: EXIT.configuration,
      message: `cannot connect to the database server (${String(code)}); check EMR_VAULT_DB_* or start it with: npx emr-vault db start`,
    }
  }
  return {
    code: EXIT.internal,
    message: `unexpected error: ${(e as Error)?.name ?? 'Error'}`,
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'))
  if (argv.length === 0 || (words.length === 0 && argv.includes('--help'))) {
    out(overview())
    return argv.length === 0 ? EXIT.usage : EXIT.ok
  }
  const found = find(words)
  if (!found) {
    // Echo the words only if they look like command words: a password typed in
    // the wrong place must not be printed back (review, LOW).
    const shown = words.every((w) => /^[a-z-]{1,20}$/.test(w))
      ? ` "${words.join(' ')}"`
      : ''
    err(`emr-vault: unknown command${shown}. Run: emr-vault --help`)
    return EXIT.usage
  }
  const { command } = found
  if (argv.includes('--help')) {
    out(
      [
        `Usage: ${usageOf(command)}`,
        '',
        command.summary,
        ...(command.help ?? []),
        '',
        ...GLOBAL_HELP,
      ].join('\n'),
    )
    return EXIT.ok
  }
  let values: Record<string, string | boolean | string[] | undefined>
  let positionals: string[]
  try {
    const dashDash = argv.indexOf('--')
    const parsed = parseArgs({
      args: [...(dashDash >= 0 ? argv.slice(0, dashDash) : argv)],
      options: {
        ...command.options,
        json: { type: 'boolean' },
        'password-stdin': { type: 'boolean' },
        help: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    })
    values = parsed.values as typeof values
    positionals = parsed.positionals.slice(command.path.length)
    if (positionals.length > 0)
      // Not echoed: it may be a password typed in the wrong place.
      throw new UsageError(
        'unexpected argument (values go after their --flag; passwords on stdin)',
      )
    if (dashDash >= 0) values['_'] = argv.slice(dashDash + 1)
  } catch (e) {
    err(
      `emr-vault: ${(e as Error).message.split('\n')[0]!.split('. To specify')[0]}\nUsage: ${usageOf(command)}`,
    )
    return EXIT.usage
  }
  const rt = new CliRuntime({
    json: values['json'] === true,
    passwordStdin: values['password-stdin'] === true,
  })
  try {
    return await command.run(rt, values)
  } catch (e) {
    const { code, message } = describe(e)
    err(`emr-vault ${command.path.join(' ')}: ${message}`)
    if (e instanceof UsageError) err(`Usage: ${usageOf(command)}`)
    return code
  } finally {
    await rt.close().catch(() => undefined)
  }
}

// `emr-vault … | head`: the reader went away; stop quietly instead of a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw e
})

process.exitCode = await main(process.argv.slice(2))
