import { rowIdToString } from '../db/row-id.js'
import { ValidationError } from '../errors/index.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { plaintextInput } from '../schema/plaintext-source.js'
import {
  encodeForRow,
  callerToValue,
  requireColumns,
  requireDeclaration,
  requireEncryptedField,
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

export interface ConvertPlaintextOptions extends ConversionOptions {
  /** The encrypted field; its plaintext column is the one `convertingFrom` names for it. */
  readonly field: string
  /**
   * Turns what mysql2 returns for the plaintext column into a value the field's
   * column accepts (e.g. a DATE column's Date into the string a date field
   * takes); by default as the repository's dual read takes it (plaintextInput),
   * so a value reads back the same before and after its row is converted.
   */
  readonly toValue?: (raw: unknown) => unknown
}

/**
 * Converts the plaintext column `convertingFrom` names for `field` into the
 * field's envelopes, patient by patient (runConversion): each value read from
 * the plaintext column is validated and encoded by the field's own column
 * (`def.encode`), sealed under the patient's current key, and the plaintext set
 * to NULL in the same UPDATE. Rows whose envelope was written since (the
 * application updated the field) only lose their plaintext. While it runs, the
 * repository reads the plaintext column of rows not yet converted (dual read);
 * once it has finished, dropPlaintextColumn removes the column.
 */
export async function convertPlaintextColumn(
  ctx: VaultContext,
  authority: RecoveryCredentials,
  table: TableDeclaration,
  input: ConvertPlaintextOptions,
): Promise<ConversionResult> {
  const declaration = requireDeclaration(table)
  const options = requireFields<ConvertPlaintextOptions>(input, 'options', [
    ...CONVERSION_OPTIONS,
    'field',
    'toValue',
  ])
  const field = requireEncryptedField(declaration, options.field)
  const column = Object.hasOwn(declaration.convertingFrom, field.name)
    ? declaration.convertingFrom[field.name]
    : undefined
  if (column === undefined) {
    throw new ValidationError(
      'field',
      `is not converting in ${declaration.name}: declare convertingFrom: { ${field.name}: '<plaintext column>' } while it converts`,
    )
  }
  if (options.toValue !== undefined && typeof options.toValue !== 'function') {
    throw new ValidationError('toValue', 'must be a function')
  }
  const spec = await requireColumns(ctx.db, declaration, field, column, 'field')
  const own = options.toValue === undefined
  const toValue =
    options.toValue ?? ((raw: unknown) => plaintextInput(field.def, raw, field.name))
  return runConversion(
    ctx,
    authority,
    { declaration, field, spec },
    {
      action: 'convert.plaintext',
      open: async () => ({
        plaintextOf: (row) => {
          const id = rowIdToString(row.id)
          const value = own
            ? toValue(row.source)
            : callerToValue(
                toValue,
                row.source,
                `${spec.table}.${field.name} of row ${id}`,
              )
          if (value === null || value === undefined) {
            throw new ValidationError(
              `${spec.table}.${field.name} of row ${id}`,
              'has no value after toValue',
            )
          }
          return encodeForRow(spec.table, field, id, value)
        },
        close: () => {},
      }),
    },
    options,
  )
}
