import { IntegrityError } from './integrity-error.js'

/**
 * A legacy value did not decrypt under the key the operator supplied (MySQL's
 * `AES_DECRYPT` would give NULL: its padding does not check), or what it gave
 * is not a value of the field. The conversion of that patient was rolled back;
 * it names the row so the operator can look at it, never the bytes.
 */
export class LegacyKeyError extends IntegrityError {
  constructor(
    readonly table: string,
    readonly column: string,
    readonly rowId: string,
    readonly patientId: string,
  ) {
    super(
      `${table}.${column} of row ${rowId} does not decrypt under the legacy key given ` +
        `for patient ${patientId}; that patient was left unchanged`,
    )
  }
}
