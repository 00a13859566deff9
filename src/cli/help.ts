import type { Command, Flag } from './command.js'
import { COMMANDS, commandsUnder } from './registry.js'

/**
 * Help text, in the shape gh and vault use: a usage line, the commands or flags
 * with one line each, then the flags every command takes and the exit codes.
 * Help that was asked for goes to stdout (`emr-vault help user | less`).
 */

const GLOBAL_FLAGS = [
  'Global flags:',
  '  --json             machine-readable output; errors too, as one line on stderr:',
  '                     {"error":{"code":"…","message":"…","exitCode":N}}',
  '  --password-stdin   read passwords from standard input, one per line (for scripts)',
  '  -h, --help         help for a command or a group of commands',
]

const EXIT_CODES = [
  'Exit codes: 0 ok, 1 a check failed, 2 usage, 3 configuration or server unreachable,',
  '4 authentication or access denied, 5 invalid input or not found, 6 integrity error,',
  '130 interrupted by Ctrl-C or SIGINT, 143 by SIGTERM (a long job stops at a',
  'consistent point: run it again to finish), 70 internal error.',
]

export function usageOf(c: Command): string {
  return `emr-vault ${c.path.join(' ')} ${c.usage}`.trimEnd()
}

function commandLines(commands: readonly Command[]): string[] {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length))
  return commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`)
}

function flagLines(flags: Readonly<Record<string, Flag>>): string[] {
  const names = Object.entries(flags).map(
    ([name, f]) => `--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`,
  )
  const width = Math.max(...names.map((n) => n.length))
  return Object.values(flags).map((f, i) => {
    const required = f.required ? ' (required)' : ''
    return `  ${names[i]!.padEnd(width)}  ${f.description ?? ''}${required}`.trimEnd()
  })
}

/** `emr-vault`, `emr-vault help`, `emr-vault --help`. */
export function overview(): string {
  return [
    'Usage: emr-vault <command> [flags]',
    '',
    'Per-patient field encryption on MySQL: the schema, users, grants, key rotation,',
    'recovery, the audit log and a check of the server.',
    '',
    'Commands:',
    ...commandLines(COMMANDS),
    '',
    'Help:',
    '  emr-vault help [command]     this overview, or the flags of a command or group',
    '  emr-vault <command> --help   the same',
    '  emr-vault --version          the version of emr-vault',
    '',
    ...GLOBAL_FLAGS,
    '',
    ...EXIT_CODES,
  ].join('\n')
}

/** `emr-vault user`, `emr-vault help user`, `emr-vault user --help`. */
export function groupHelp(group: readonly string[]): string {
  const name = group.join(' ')
  return [
    `Usage: emr-vault ${name} <command> [flags]`,
    '',
    'Commands:',
    ...commandLines(commandsUnder(group)),
    '',
    `Run emr-vault help ${name} <command> for its flags.`,
    '',
    ...GLOBAL_FLAGS,
  ].join('\n')
}

/** `emr-vault help user create`, `emr-vault user create --help`. */
export function commandHelp(command: Command): string {
  const flags = command.options ?? {}
  const below = commandsUnder(command.path)
  return [
    `Usage: ${usageOf(command)}`,
    '',
    command.summary,
    ...(Object.keys(flags).length ? ['', 'Flags:', ...flagLines(flags)] : []),
    ...(command.help?.length ? ['', ...command.help] : []),
    ...(below.length ? ['', 'Commands:', ...commandLines(below)] : []),
    '',
    ...GLOBAL_FLAGS,
    '',
    ...EXIT_CODES,
  ].join('\n')
}
