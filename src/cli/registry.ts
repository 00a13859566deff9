import type { Command } from './command.js'
import { accessCommands } from './commands/access.js'
import { auditCommands } from './commands/audit.js'
import { chartCommands } from './commands/chart.js'
import { convertCommands } from './commands/convert.js'
import { searchCommands } from './commands/search.js'
import { databaseCommands } from './commands/database.js'
import { doctorCommands } from './commands/doctor.js'
import { recoveryCommands } from './commands/recovery.js'
import { userCommands } from './commands/users.js'

/** Every command, in the order the overview lists them. */
export const COMMANDS: readonly Command[] = [
  ...databaseCommands,
  ...userCommands,
  ...accessCommands,
  ...recoveryCommands,
  ...convertCommands,
  ...auditCommands,
  ...chartCommands,
  ...searchCommands,
  ...doctorCommands,
]

const LONGEST_FIRST = [...COMMANDS].sort((a, b) => b.path.length - a.path.length)

/** The command named by the longest matching prefix of `words`. */
export function findCommand(
  words: readonly string[],
): { command: Command; rest: string[] } | undefined {
  for (const c of LONGEST_FIRST) {
    if (c.path.every((w, i) => words[i] === w))
      return { command: c, rest: words.slice(c.path.length) }
  }
  return undefined
}

/** The commands one or more words below `prefix` (`user` → user create, user list, …). */
export function commandsUnder(prefix: readonly string[]): Command[] {
  return COMMANDS.filter(
    (c) => c.path.length > prefix.length && prefix.every((w, i) => c.path[i] === w),
  )
}
