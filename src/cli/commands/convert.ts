import type { ConversionResult } from '../../services/conversion-job.js'
import {
  optionalArg,
  stringArg,
  UsageError,
  type Command,
  type Flag,
} from '../command.js'
import { oneOf } from '../flag-checks.js'
import { interruption } from '../interrupt.js'
import { out, toJson } from '../io.js'
import { Progress } from '../progress.js'
import type { CliRuntime } from '../runtime.js'
import { moduleFile } from '../table-module.js'
import { AS_ADMIN, RECOVERY_KEY } from './flags.js'

/**
 * Bringing existing data into a declared table: a plaintext column, or a column
 * of MySQL AES_ENCRYPT(value, key) in aes-128-ecb, becomes a field's envelopes,
 * one transaction per patient. Ctrl-C stops between two patients (exit 130);
 * running the command again resumes. The last step drops the old column.
 */

const NAME = /^[a-z][a-z0-9_]{0,63}$/

function sqlName(value: string, flag: string): void {
  if (!NAME.test(value)) throw new UsageError(`--${flag} must be a lower-case SQL name`)
}

const TABLES: Flag = {
  type: 'string',
  value: 'FILE',
  description:
    'a compiled JavaScript module of the application exporting its declarations (defineTable)',
  required: true,
  check: moduleFile,
}
const TABLE: Flag = {
  type: 'string',
  value: 'NAME',
  description: 'the declared table',
  required: true,
  check: sqlName,
}
const FIELD: Flag = {
  type: 'string',
  value: 'FIELD',
  description: 'the encrypted field of the declaration (its TypeScript name)',
  required: true,
}
const DRY_RUN: Flag = {
  type: 'boolean',
  description: 'read and check every value as the conversion would, and write nothing',
}

async function runConversion(
  rt: CliRuntime,
  label: string,
  convert: (
    onProgress: (p: { patients: number; total: number }) => void,
  ) => Promise<ConversionResult>,
): Promise<number> {
  const progress = new Progress(label)
  const result = await convert((p) => progress.update(p.patients, p.total))
  const stopped = !result.finished
  progress.done(
    `${result.dryRun ? 'dry run: would convert' : 'converted'} ${result.rows} values of ` +
      `${result.table}.${result.field} for ${result.patients} patients` +
      (result.cleared ? `, cleared ${result.cleared} already sealed` : '') +
      (stopped ? '; interrupted: run again to finish' : '') +
      (!stopped && !result.dryRun && result.remaining.rows > 0
        ? `; ${result.remaining.rows} values were written to ${result.column} since: run again`
        : ''),
  )
  if (rt.json) out(toJson(result))
  return stopped ? interruption(rt.signal).exitCode : 0
}

export const convertCommands: Command[] = [
  {
    path: ['convert', 'plaintext'],
    summary:
      "encrypt a plaintext column into a declared field (the declaration's convertingFrom names it); resumable",
    usage:
      '--as ADMIN --recovery-key FILE --tables FILE --table NAME --field FIELD [--dry-run] [--json]',
    help: [
      'One transaction per patient; Ctrl-C stops between two patients, and running it again resumes.',
      'When it has finished, deploy the declaration without convertingFrom, then: convert drop-plaintext.',
    ],
    // The table flags first: their checks cost nothing, the key file's a read.
    options: {
      tables: TABLES,
      table: TABLE,
      field: FIELD,
      'dry-run': DRY_RUN,
      as: AS_ADMIN,
      'recovery-key': RECOVERY_KEY,
    },
    handlesInterrupt: true,
    async run(rt, args) {
      const { loadTableModule } = await import('../table-module.js')
      const table = (await loadTableModule(stringArg(args, 'tables'))).table(
        stringArg(args, 'table'),
      )
      const authority = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      const vault = await rt.vault()
      return runConversion(rt, 'convert plaintext', (onProgress) =>
        vault.convertPlaintextColumn(authority, table, {
          field: stringArg(args, 'field'),
          dryRun: args['dry-run'] === true,
          signal: rt.signal,
          onProgress,
        }),
      )
    },
  },
  {
    path: ['convert', 'legacy'],
    summary:
      'move a column of MySQL AES_ENCRYPT(value, key) (aes-128-ecb) into a declared field under each patient key',
    usage:
      '--as ADMIN --recovery-key FILE --tables FILE --table NAME --field FIELD --from COLUMN ' +
      '[--key-export NAME | --key-encoding text|hex|base64] [--dry-run] [--json]',
    help: [
      'The legacy key is read like a password (prompt, or stdin after the admin password),',
      'unless --key-export names a function of the --tables module: (patientId, trx) => Promise<Buffer>.',
      'One transaction per patient; Ctrl-C stops between two patients, and running it again resumes.',
    ],
    options: {
      tables: TABLES,
      table: TABLE,
      field: FIELD,
      from: {
        type: 'string',
        value: 'COLUMN',
        description: 'the legacy column (VARBINARY or BLOB)',
        required: true,
        check: sqlName,
      },
      'key-export': {
        type: 'string',
        value: 'NAME',
        description:
          'a function the --tables module exports that gives each patient its legacy key',
      },
      'key-encoding': {
        type: 'string',
        value: 'text|hex|base64',
        description:
          'how the legacy key is typed: as text (the default, as AES_ENCRYPT took it), hex or base64',
        check: oneOf('text', 'hex', 'base64'),
      },
      'dry-run': DRY_RUN,
      as: AS_ADMIN,
      'recovery-key': RECOVERY_KEY,
    },
    handlesInterrupt: true,
    validate(args) {
      if (optionalArg(args, 'key-export') && optionalArg(args, 'key-encoding'))
        throw new UsageError(
          '--key-encoding is for a key typed in, not with --key-export',
        )
    },
    async run(rt, args) {
      const { loadTableModule } = await import('../table-module.js')
      const module = await loadTableModule(stringArg(args, 'tables'))
      const table = module.table(stringArg(args, 'table'))
      const keyExport = optionalArg(args, 'key-export')
      const resolver = keyExport === undefined ? undefined : module.exports[keyExport]
      if (keyExport !== undefined && typeof resolver !== 'function')
        throw new UsageError(
          `--key-export ${keyExport} is not a function the --tables module exports`,
        )
      const authority = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      const encoding = (optionalArg(args, 'key-encoding') ?? 'text') as
        'text' | 'hex' | 'base64'
      const key =
        resolver !== undefined
          ? (resolver as (patientId: string, trx: unknown) => Promise<Buffer>)
          : Buffer.from(
              await rt.secret(`legacy key of ${table.name}.${stringArg(args, 'from')}`),
              encoding === 'text' ? 'utf8' : encoding,
            )
      const vault = await rt.vault()
      try {
        return await runConversion(rt, 'convert legacy', (onProgress) =>
          vault.convertLegacyColumn(authority, table, {
            field: stringArg(args, 'field'),
            from: stringArg(args, 'from'),
            key,
            dryRun: args['dry-run'] === true,
            signal: rt.signal,
            onProgress,
          }),
        )
      } finally {
        if (Buffer.isBuffer(key)) key.fill(0)
      }
    },
  },
  {
    path: ['convert', 'drop-plaintext'],
    summary:
      'drop the column a conversion read from, once no row holds a value in it (refused otherwise)',
    usage: '--as ADMIN --tables FILE --table NAME --column COLUMN [--json]',
    help: [
      'Give the declaration the application now runs with: one whose convertingFrom no longer names the column.',
    ],
    options: {
      tables: TABLES,
      table: TABLE,
      column: {
        type: 'string',
        value: 'COLUMN',
        description: 'the plaintext or legacy column to drop',
        required: true,
        check: sqlName,
      },
      as: AS_ADMIN,
    },
    async run(rt, args) {
      const { loadTableModule } = await import('../table-module.js')
      const table = (await loadTableModule(stringArg(args, 'tables'))).table(
        stringArg(args, 'table'),
      )
      const admin = await rt.loginAs(stringArg(args, 'as'))
      const result = await (
        await rt.vault()
      ).dropPlaintextColumn(admin, table, stringArg(args, 'column'))
      out(rt.json ? toJson(result) : `Dropped ${result.table}.${result.column}`)
      return 0
    },
  },
]
