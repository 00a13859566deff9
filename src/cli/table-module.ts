import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigurationError, ValidationError } from '../errors/index.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { UsageError } from './command.js'

/**
 * The application's declarations, for the commands that act on its tables
 * (`convert …`): `--tables FILE` names a compiled JavaScript module of the
 * application, and every declaration it exports (directly, or in an exported
 * array or object) is found by its table name.
 */

/** The --tables flag's check: a file that exists (loaded when the command runs). */
export function moduleFile(value: string, flag: string): void {
  if (!existsSync(value)) throw new UsageError(`--${flag} ${value} does not exist`)
  // The module runs in the process that then reads the recovery key, a password
  // and the legacy key: one that others may write is refused, as ssh refuses a
  // key file others can read.
  if (process.platform !== 'win32' && (statSync(value).mode & 0o022) !== 0) {
    throw new UsageError(
      `--${flag} ${value} is writable by others (group or world): its code would run with the keys`,
    )
  }
}

function isDeclaration(value: unknown): value is TableDeclaration {
  const d = value as Partial<TableDeclaration> | null
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.name === 'string' &&
    typeof d.patientColumn === 'string' &&
    Array.isArray(d.encryptedFields)
  )
}

export interface TableModule {
  readonly exports: Readonly<Record<string, unknown>>
  table(name: string): TableDeclaration
  /** Every declaration the module exports. */
  all(): TableDeclaration[]
}

export async function loadTableModule(file: string): Promise<TableModule> {
  let exports: Record<string, unknown>
  try {
    // The operator's own module, named on the command line: not a file of this
    // package, so there is no literal for lint to follow.
    // eslint-disable-next-line no-restricted-syntax
    exports = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>
  } catch (err) {
    throw new ConfigurationError(
      `--tables ${file} could not be loaded (${(err as Error)?.name ?? 'Error'}): it must be a JavaScript module`,
    )
  }
  const found = new Map<string, TableDeclaration>()
  const visit = (value: unknown, depth: number): void => {
    if (isDeclaration(value)) found.set(value.name, value)
    else if (depth < 2 && typeof value === 'object' && value !== null)
      for (const v of Object.values(value)) visit(v, depth + 1)
  }
  for (const value of Object.values(exports)) visit(value, 1)
  return {
    exports,
    all: () => [...found.values()],
    table(name) {
      const table = found.get(name)
      if (!table) {
        throw new ValidationError(
          'table',
          `${name} is not declared in ${file} (it declares: ${[...found.keys()].join(', ') || 'no table'})`,
        )
      }
      return table
    },
  }
}
