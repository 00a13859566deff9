import type { CliRuntime } from './runtime.js'

/**
 * Exit codes scripts can rely on (documented in the operator guide). A script
 * branches on these, never on message text.
 */
export const EXIT = {
  ok: 0,
  /** A check found a problem: doctor FAIL, audit chain broken. */
  checkFailed: 1,
  /** Unknown command or flag, a flag missing or not of its form. */
  usage: 2,
  /** Configuration, key file, or the server cannot be reached. */
  configuration: 3,
  /** Wrong password, disabled account, no grant or role. */
  denied: 4,
  /** Invalid input (an id that is not one) or a thing that does not exist. */
  invalid: 5,
  /** A stored value failed its integrity check. */
  integrity: 6,
  internal: 70,
  /** Ctrl-C or SIGINT (128 + 2); a long job stopped at a consistent point: run again to finish. */
  interrupted: 130,
  /** SIGTERM (128 + 15), as for SIGINT. */
  terminated: 143,
} as const

/** A mistake in how the command was called; printed with the command's usage. */
export class UsageError extends Error {}

export type ArgValue = string | boolean | string[] | undefined
export type Args = Record<string, ArgValue>

/** A `--flag` of a command: what node:util parseArgs needs, and what help and validation need. */
export interface Flag {
  readonly type: 'string' | 'boolean'
  readonly multiple?: boolean
  /** The value's placeholder in help: `--as USER`. */
  readonly value?: string
  readonly description?: string
  /** A missing flag is a usage error: `--name is required`, or this message. */
  readonly required?: boolean | string
  /**
   * Checks the value before the command runs: no password has been asked and no
   * connection opened yet. Throws a UsageError, or the library's typed error
   * when the library would refuse the value the same way (an id that is not a UUID).
   */
  readonly check?: (value: string, flag: string) => void | Promise<void>
}

export type Flags = Readonly<Record<string, Flag>>

export interface Command {
  /** Words after `emr-vault`, e.g. `['user', 'create']`. */
  readonly path: readonly string[]
  readonly summary: string
  /** Usage line after the command path, e.g. `--username NAME [--json]`. */
  readonly usage: string
  /** More help after the flags, one line each. */
  readonly help?: readonly string[]
  readonly options?: Flags
  /** Needs no database (db start, recovery init). */
  readonly offline?: boolean
  /**
   * The command watches `rt.signal` and ends at a consistent point itself
   * (rotate --all), or leaves Ctrl-C to a program it runs (db shell). Any other
   * command is cut off when the run is interrupted.
   */
  readonly handlesInterrupt?: boolean
  /**
   * Checks across flags, and anything else that must fail before a password is
   * asked: a key file is read and checked here, not after the login.
   */
  validate?(args: Args): void | Promise<void>
  run(rt: CliRuntime, args: Args): Promise<number>
}

/** A string flag's value; a missing one is a usage error (validation normally caught it first). */
export function stringArg(args: Args, name: string): string {
  const value = args[name]
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`--${name} is required`)
  return value
}

/** A string flag's value, or undefined when it was not given. */
export function optionalArg(args: Args, name: string): string | undefined {
  const value = args[name]
  return typeof value === 'string' ? value : undefined
}
