import type { ParseArgsConfig } from 'node:util'
import type { CliRuntime } from './runtime.js'

/**
 * Exit codes scripts can rely on (documented in the README's operator guide).
 * A script branches on these, never on message text.
 */
export const EXIT = {
  ok: 0,
  /** A check found a problem: doctor FAIL, audit chain broken. */
  checkFailed: 1,
  /** Unknown command or flag, missing argument. */
  usage: 2,
  /** Configuration, key file, or the server cannot be reached. */
  configuration: 3,
  /** Wrong password, disabled account, no grant or role. */
  denied: 4,
  /** Invalid input or a thing that does not exist. */
  invalid: 5,
  /** A stored value failed its integrity check. */
  integrity: 6,
  /** Interrupted (Ctrl-C) at a consistent point; run again to finish. */
  interrupted: 130,
  internal: 70,
} as const

/** A mistake in how the command was called; printed with the command's usage. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>

export interface Command {
  /** Words after `emr-vault`, e.g. `['user', 'create']`. */
  readonly path: readonly string[]
  readonly summary: string
  /** Usage line after the command path, e.g. `--username NAME [--json]`. */
  readonly usage: string
  /** Longer help: one line per option. */
  readonly help?: readonly string[]
  readonly options?: Options
  /** Needs no database (db start, recovery init). */
  readonly offline?: boolean
  run(
    rt: CliRuntime,
    args: Record<string, string | boolean | string[] | undefined>,
  ): Promise<number>
}
