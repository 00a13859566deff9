/**
 * What a column of a declared table is. Encrypted columns hold one envelope each
 * (docs/envelope.md): the value is validated and encoded to bytes in Node, sealed
 * and opened inside MySQL, and decoded back to exactly the declared type. Plain
 * columns are the ones an application chooses to keep in clear (status flags,
 * foreign keys, sort keys): they are what `list` filters and orders on.
 *
 * The column factories live in encrypted-columns.ts and plain-columns.ts.
 */

export type EncryptedType =
  'text' | 'date' | 'dateTime' | 'integer' | 'decimal' | 'boolean' | 'json' | 'bytes'

export interface EncryptedColumn<T = unknown, Nullable extends boolean = boolean> {
  readonly kind: 'encrypted'
  readonly type: EncryptedType
  readonly nullable: Nullable
  /** SQL column name; `<snake_case of the field>_enc` when not given. */
  readonly column: string | undefined
  /** Largest encoded plaintext in bytes: sizes the column (migration helper). */
  readonly maxBytes: number
  /**
   * Checks a caller's value (never `null` or `undefined`: nullability is the
   * repository's job) and returns the bytes to seal. Throws a ValidationError
   * naming `field` and the rule, never the value (it is PHI).
   */
  encode(value: unknown, field: string): Buffer
  /** The value back from opened bytes (made by `encode`, MAC-checked). */
  decode(bytes: Buffer): T
}

export type PlainType = 'text' | 'integer' | 'boolean' | 'dateTime' | 'rowId' | 'enum'

export interface PlainColumn<T = unknown, Nullable extends boolean = boolean> {
  readonly kind: 'plain'
  readonly type: PlainType
  readonly nullable: Nullable
  /** SQL column name; the snake_case of the field when not given. */
  readonly column: string | undefined
  /** `text`: largest length in characters (VARCHAR(n)). */
  readonly maxLength?: number
  /** `enum`: the allowed values. */
  readonly values?: readonly string[]
  /**
   * Checks a caller's value (never `null` or `undefined`) and returns what the
   * driver binds: a Buffer for a rowId, a Date for a dateTime, the value otherwise.
   */
  toDriver(value: unknown, field: string): string | number | boolean | Date | Buffer
  /** The value back from what mysql2 returns for the column. */
  fromDriver(value: unknown): T
}

export type AnyColumn = EncryptedColumn | PlainColumn

/** The type a column reads back as, `null` included when it may be nullable (`true` or `boolean`). */
export type ValueOf<C> =
  C extends EncryptedColumn<infer T, infer N>
    ? true extends N
      ? T | null
      : T
    : C extends PlainColumn<infer T, infer N>
      ? true extends N
        ? T | null
        : T
      : never
