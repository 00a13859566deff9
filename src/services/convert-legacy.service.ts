import type { Knex } from 'knex'
import { wipe } from '../crypto/bytes.js'
import { mysqlAesEcbDecrypt } from '../crypto/mysql-aes-ecb.js'
import { rowIdToString } from '../db/row-id.js'
import { LegacyKeyError, ValidationError } from '../errors/index.js'
import type { TableDeclaration } from '../schema/define-table.js'
import {
  encodeForRow,
  callerToValue,
  requireColumns,
  requireDeclaration,
  requireEncryptedField,
  requireUndeclaredColumn,
} from './conversion-target.js'
import {
  CONVERSION_OPTIONS,
  runConversion,
  type ConversionOptions,
  type ConversionResult,
} from './conversion-job.js'
import type { RecoveryCredentials } from './recovery.service.js'
import { requireFields } from './require-object.js'
import type { VaultContext } from './vault-context.js'

/**
 * The legacy key of one patient, looked up in the patient's conversion
 * transaction: e.g. a per-patient "system" key stored as
 * `AES_ENCRYPT(system_key, UNHEX(SHA2(password, 256)))`, read with `trx` and
 * unwrapped with mysqlAesEcbDecrypt. The Buffer returned is wiped after use.
 */
export type LegacyKeyResolver = (
  patientId: string,
  trx: Knex.Transaction,
) => Promise<Buffer>

export interface ConvertLegacyOptions extends ConversionOptions {
  /** The encrypted field the legacy values become. */
  readonly field: string
  /** The legacy column (VARBINARY or BLOB) holding `AES_ENCRYPT(value, key)` in aes-128-ecb. */
  readonly from: string
  /**
   * The key the values were encrypted with, as MySQL took it (the bytes of the
   * string passed to AES_ENCRYPT; any length, MySQL folds it): one Buffer for
   * the whole table, or a resolver per patient.
   */
  readonly key: Buffer | LegacyKeyResolver
  /**
   * Turns the decrypted bytes into a value the field's column accepts. By
   * default: the bytes for a `bytes` field, else the bytes read as UTF-8 text.
   */
  readonly toValue?: (plaintext: Buffer) => unknown
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Converts a column written with MySQL's `AES_ENCRYPT(value, key)` in the
 * server's default aes-128-ecb into the field's envelopes under each patient's
 * own key (runConversion). Each value is decrypted in Node (crypto/mysql-aes-ecb.ts
 * says why not in SQL: the pooled connections stay in aes-256-cbc), checked by
 * the field's column, sealed, and the legacy value set to NULL in the same
 * UPDATE. A value that does not decrypt is a LegacyKeyError naming the row; that
 * patient is left as it was and the run stops.
 *
 * The legacy column must not be the field's `convertingFrom` column: the
 * repository would read its ciphertext as the value.
 */
export async function convertLegacyColumn(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  table: TableDeclaration,
  input: ConvertLegacyOptions,
): Promise<ConversionResult> {
  const declaration = requireDeclaration(table)
  const options = requireFields<ConvertLegacyOptions>(input, 'options', [
    ...CONVERSION_OPTIONS,
    'field',
    'from',
    'key',
    'toValue',
  ])
  const field = requireEncryptedField(declaration, options.field)
  const from = requireUndeclaredColumn(declaration, options.from, 'from')
  if (Object.values(declaration.convertingFrom).includes(from)) {
    throw new ValidationError(
      'from',
      `is a convertingFrom column of ${declaration.name}, read as plaintext while it converts: a legacy column must not be`,
    )
  }
  const key = options.key
  if (!Buffer.isBuffer(key) && typeof key !== 'function') {
    throw new ValidationError(
      'key',
      'must be a Buffer or a function (patientId, trx) => key',
    )
  }
  if (options.toValue !== undefined && typeof options.toValue !== 'function') {
    throw new ValidationError('toValue', 'must be a function')
  }
  const spec = await requireColumns(ctx.db, declaration, field, from, 'from')
  const tableKey = Buffer.isBuffer(key) ? Buffer.alloc(key.length, key) : undefined
  const byDefault = options.toValue === undefined
  const toValue =
    options.toValue ??
    ((plaintext: Buffer): unknown =>
      field.def.type === 'bytes' ? plaintext : UTF8.decode(plaintext))
  try {
    return await runConversion(
      ctx,
      authority,
      { declaration, field, spec },
      {
        action: 'convert.legacy',
        open: async (trx, patientId) => {
          const pid = rowIdToString(patientId)
          const legacyKey = tableKey
            ? Buffer.from(tableKey)
            : await (key as LegacyKeyResolver)(pid, trx)
          if (!Buffer.isBuffer(legacyKey)) {
            throw new ValidationError('key', `resolver gave no Buffer for patient ${pid}`)
          }
          return {
            plaintextOf: (row) => {
              const id = rowIdToString(row.id)
              if (!Buffer.isBuffer(row.source)) {
                throw new ValidationError(
                  'from',
                  `${spec.table}.${from} must be a binary column (VARBINARY or BLOB)`,
                )
              }
              const plaintext = mysqlAesEcbDecrypt(row.source, legacyKey)
              if (plaintext === null) throw new LegacyKeyError(spec.table, from, id, pid)
              let value: unknown
              try {
                value = byDefault
                  ? toValue(plaintext)
                  : callerToValue(
                      toValue,
                      plaintext,
                      `${spec.table}.${field.name} of row ${id}`,
                    )
              } catch (err) {
                // Not UTF-8: what a wrong key that happened to unpad gives.
                if (byDefault && err instanceof TypeError)
                  throw new LegacyKeyError(spec.table, from, id, pid)
                throw err
              } finally {
                if (value !== plaintext) wipe(plaintext)
              }
              if (value === null || value === undefined) {
                throw new ValidationError(
                  `${spec.table}.${field.name} of row ${id}`,
                  'has no value after toValue',
                )
              }
              return encodeForRow(spec.table, field, id, value)
            },
            close: () => wipe(legacyKey),
          }
        },
      },
      options,
    )
  } finally {
    wipe(tableKey)
  }
}
