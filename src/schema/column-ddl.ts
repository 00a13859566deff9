import { createHash } from 'node:crypto'
import { AES_BLOCK_BYTES } from '../crypto/aes-cbc.js'
import {
  ENVELOPE_FIXED_OVERHEAD_BYTES,
  ENVELOPE_MIN_BYTES,
  ENVELOPE_VERSION,
  envelopeLength,
} from '../crypto/envelope.js'
import { ValidationError } from '../errors/index.js'
import { quoteIdentifier } from '../sql/envelope-sql.js'
import type { EncryptedColumn, PlainColumn } from './column.js'
import type { DeclaredField, TableDeclaration } from './define-table.js'
import type { DeclaredIndex } from './search-indexes.js'

/**
 * What each column of a declared table is in SQL: the migration helpers create
 * it from this, and describeTableDrift compares information_schema with it.
 * Names come from a checked declaration and are quoted with quoteIdentifier; no
 * value of any row is ever part of this SQL.
 */

/**
 * Largest plaintext an encrypted column keeps in VARBINARY; larger ones get a
 * BLOB type. InnoDB refuses a table whose VARBINARY/VARCHAR columns could together
 * exceed 65,535 bytes (BLOBs count 9 to 12 bytes each): measured on MySQL 9.7 and
 * MariaDB 11.8, 15 columns of VARBINARY(4165) (4,096 bytes of plaintext) fit
 * beside the library's columns and 16 are refused (ER_TOO_BIG_ROWSIZE). So a table
 * of ordinary fields stays well inside the limit, while VARBINARY keeps its size
 * exact and its values in MariaDB's in-memory temporary tables (a BLOB column sends
 * a sort or GROUP BY to an on-disk one there).
 */
export const VARBINARY_MAX_PLAINTEXT_BYTES = 4096

/** utf8mb4 VARCHAR(n) is at most 16,383 characters (4 bytes each, 65,535 in all). */
const VARCHAR_MAX_CHARACTERS = 16_383

/** The one collation of text columns: exact, byte-wise equality on both engines. */
export const TEXT_COLLATION = 'utf8mb4_bin'

export type ColumnRole = 'id' | 'patient' | 'timestamp' | 'encrypted' | 'plain' | 'index'

export interface CheckDdl {
  /** Constraint name (unquoted). */
  readonly name: string
  /** The predicate, for `CONSTRAINT name CHECK (predicate)`. */
  readonly sql: string
}

export interface ColumnDdl {
  readonly column: string
  readonly role: ColumnRole
  /** The declared field, for encrypted and plain columns. */
  readonly field?: string
  /**
   * As information_schema's COLUMN_TYPE writes it, without integer display
   * widths (MariaDB writes `bigint(20)`, MySQL `bigint`): `varbinary(1093)`.
   */
  readonly type: string
  readonly nullable: boolean
  /** Set for text columns. */
  readonly collation?: typeof TEXT_COLLATION
  readonly checks: readonly CheckDdl[]
}

/**
 * A constraint or index name, `<table>_<part>…`. MySQL keeps CHECK and foreign-key
 * names per database and allows 64 characters, so a name that would be longer is
 * cut and ends with 8 hex digits of its SHA-256 instead, still one per table.
 */
export function ddlName(table: string, ...parts: string[]): string {
  const name = [table, ...parts].join('_')
  if (name.length <= 64) return name
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8)
  return `${name.slice(0, 55)}_${hash}`
}

/**
 * The SQL type of an envelope column for `maxBytes` of plaintext: exactly
 * envelopeLength(maxBytes) = 53 + 16·(⌊maxBytes/16⌋ + 1) bytes in VARBINARY up to
 * VARBINARY_MAX_PLAINTEXT_BYTES, else the smallest BLOB type that holds it.
 */
export function envelopeColumnType(maxBytes: number, field = 'maxBytes'): string {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new ValidationError(field, 'must give maxBytes as a whole number of bytes')
  }
  const bytes = envelopeLength(maxBytes)
  if (maxBytes <= VARBINARY_MAX_PLAINTEXT_BYTES) return `varbinary(${bytes})`
  if (bytes <= 0xffff) return 'blob'
  if (bytes <= 0xff_ffff) return 'mediumblob'
  if (bytes <= 0xffff_ffff) return 'longblob'
  throw new ValidationError(field, 'must be at most 4 GiB less the envelope overhead')
}

/**
 * A stored value has the envelope's shape: at least the shortest envelope
 * (69 bytes, an empty plaintext), the fixed 53 bytes plus whole AES blocks
 * (envelopeLength), and the format byte first.
 *
 * `c IS NULL OR (LENGTH(c) >= 69 AND (LENGTH(c) - 53) % 16 = 0 AND LEFT(c, 1) = 0x01)`
 *
 * MySQL from 8.0.16 and MariaDB enforce it (measured on MySQL 9.7 and MariaDB 11.8:
 * a 10-byte value, a 70-byte one and one with format byte 0x02 are refused).
 */
export function envelopeCheckSql(column: string): string {
  const c = quoteIdentifier(column)
  const version = `0x${ENVELOPE_VERSION.toString(16).padStart(2, '0')}`
  return (
    `${c} IS NULL OR (LENGTH(${c}) >= ${ENVELOPE_MIN_BYTES} ` +
    `AND (LENGTH(${c}) - ${ENVELOPE_FIXED_OVERHEAD_BYTES}) % ${AES_BLOCK_BYTES} = 0 ` +
    `AND LEFT(${c}, 1) = ${version})`
  )
}

/** Characters an enum value may not have: it is written into a CHECK as a '…' literal. */
const UNSAFE_IN_LITERAL = /['\\?\p{Cc}]/u

function enumValues(def: PlainColumn, field: string): readonly string[] {
  const values = def.values
  if (
    !Array.isArray(values) ||
    values.length === 0 ||
    !values.every((v) => typeof v === 'string' && v.length > 0)
  ) {
    throw new ValidationError(field, 'must list its enum values (non-empty strings)')
  }
  if (values.some((v: string) => UNSAFE_IN_LITERAL.test(v))) {
    throw new ValidationError(
      field,
      "has an enum value with a quote, backslash, '?' or control character, which a CHECK constraint cannot hold",
    )
  }
  return values as readonly string[]
}

function encryptedColumn(table: string, f: DeclaredField<EncryptedColumn>): ColumnDdl {
  return {
    column: f.column,
    role: 'encrypted',
    field: f.name,
    type: envelopeColumnType(f.def.maxBytes, `encrypted.${f.name}`),
    nullable: f.def.nullable,
    checks: [{ name: ddlName(table, f.column, 'env'), sql: envelopeCheckSql(f.column) }],
  }
}

function plainColumn(table: string, f: DeclaredField<PlainColumn>): ColumnDdl {
  const field = `plain.${f.name}`
  const base = {
    column: f.column,
    role: 'plain' as const,
    field: f.name,
    nullable: f.def.nullable,
  }
  switch (f.def.type) {
    case 'text': {
      const n = f.def.maxLength
      if (!Number.isSafeInteger(n) || n! < 1 || n! > VARCHAR_MAX_CHARACTERS) {
        throw new ValidationError(
          field,
          `must give maxLength as 1 to ${VARCHAR_MAX_CHARACTERS} characters`,
        )
      }
      return { ...base, type: `varchar(${n})`, collation: TEXT_COLLATION, checks: [] }
    }
    case 'enum': {
      const values = enumValues(f.def, field)
      const longest = Math.max(...values.map((v) => [...v].length))
      const c = quoteIdentifier(f.column)
      return {
        ...base,
        type: `varchar(${longest})`,
        collation: TEXT_COLLATION,
        checks: [
          {
            name: ddlName(table, f.column, 'in'),
            sql: `${c} IN (${values.map((v) => `'${v}'`).join(', ')})`,
          },
        ],
      }
    }
    case 'integer':
      return { ...base, type: 'bigint', checks: [] }
    case 'boolean':
      return { ...base, type: 'tinyint(1)', checks: [] }
    case 'dateTime':
      return { ...base, type: 'datetime(3)', checks: [] }
    case 'rowId':
      return { ...base, type: 'binary(16)', checks: [] }
    default:
      throw new ValidationError(
        field,
        'has a plain type the migration helper does not know',
      )
  }
}

/** The library's own columns: the row id, the patient, the two timestamps. */
function libraryColumns(decl: TableDeclaration): ColumnDdl[] {
  const own = (column: string, role: ColumnRole, type: string): ColumnDdl => ({
    column,
    role,
    type,
    nullable: false,
    checks: [],
  })
  return [
    own('id', 'id', 'binary(16)'),
    // The patients table is its own patient: its id is the patient column.
    ...(decl.patientColumn === 'id'
      ? []
      : [own(decl.patientColumn, 'patient', 'binary(16)')]),
    own('created_at', 'timestamp', 'datetime(3)'),
    own('updated_at', 'timestamp', 'datetime(3)'),
  ]
}

/**
 * A search index's column (search-indexes.ts): 16 bytes of HMAC for an exact
 * index, the kept bits of a coarse one as an integer; NULL when the row's value
 * is NULL or normalises to nothing.
 */
function indexColumn(index: DeclaredIndex): ColumnDdl {
  return {
    column: index.column,
    role: 'index',
    // addEncryptedColumns names an index by its name, like a field.
    field: index.name,
    type: index.kind === 'exact' ? 'binary(16)' : 'int unsigned',
    nullable: true,
    checks: [],
  }
}

/** Every column of a declared table, in table order: the library's, encrypted, plain, index. */
export function tableColumnsDdl(decl: TableDeclaration): ColumnDdl[] {
  quoteIdentifier(decl.name)
  return [
    ...libraryColumns(decl),
    ...decl.encryptedFields.map((f) => encryptedColumn(decl.name, f)),
    ...decl.plainFields.map((f) => plainColumn(decl.name, f)),
    ...decl.indexes.map(indexColumn),
  ]
}

/** The column as it is written in CREATE TABLE / ALTER TABLE … ADD. */
export function columnTypeSql(ddl: ColumnDdl): string {
  const type = ddl.type.toUpperCase()
  return ddl.collation === undefined
    ? type
    : `${type} CHARACTER SET utf8mb4 COLLATE ${ddl.collation}`
}
