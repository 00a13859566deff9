import { randomBytes } from 'node:crypto'
import {
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_MIN_BYTES,
  ENVELOPE_TAG_BYTES,
  ENVELOPE_VERSION,
  envelopeHeader,
} from '../crypto/envelope.js'
import { hmacPads } from '../crypto/field-keys.js'
import { ValidationError } from '../errors/index.js'
import { modeChecked } from './mode-guard.js'
import type { CompiledStatement } from './prepared.js'

/**
 * SQL for the stored envelope of docs/envelope.md, formed and opened by MySQL:
 *
 *   envelope = 0x01 ‖ key_version (uint32 BE) ‖ iv (16) ‖ AES-256-CBC(enc, iv, pt) ‖ tag (32)
 *   tag      = HMAC-SHA256(mac, aad ‖ everything before the tag)
 *
 * HMAC is built from SHA2/UNHEX/CONCAT with the RFC 2104 pads computed in Node
 * (verified equal to createHmac on MySQL 9.7). Keys, pads,
 * plaintext and AAD are `?` bindings only; identifiers are checked code constants.
 *
 * Every expression that calls AES is wrapped in the mode check of mode-guard.ts
 * (`CASE WHEN AES_ENCRYPT(LEFT(…, 0), ?, ?) = ? THEN … ELSE <error> END`): on a
 * connection whose block_encryption_mode is not aes-256-cbc the statement fails
 * instead of sealing, opening or resealing.
 */

const HEADER_BYTES = ENVELOPE_HEADER_BYTES
const TAG_BYTES = ENVELOPE_TAG_BYTES
const VERSION_LITERAL = `0x${ENVELOPE_VERSION.toString(16).padStart(2, '0')}`

/** Field subkeys of one patient-key version, ready for SQL. */
export interface SqlFieldKeys {
  readonly keyVersion: number
  readonly enc: Buffer
  /** HMAC key XOR 0x36…, 64 bytes. */
  readonly inner: Buffer
  /** HMAC key XOR 0x5c…, 64 bytes. */
  readonly outer: Buffer
}

function checkKey(value: unknown, name: string): Buffer {
  if (!Buffer.isBuffer(value)) throw new ValidationError(name, 'must be a Buffer')
  // MySQL silently folds keys of any other length (measured on MySQL 9.7): check here.
  if (value.length !== 32) {
    throw new ValidationError(name, `must be 32 bytes, got ${value.length}`)
  }
  // A zero-filled key is a wiped one (a closed session): never encrypt under it.
  if (value.every((b) => b === 0))
    throw new ValidationError(name, 'is all zero bytes (a wiped key?)')
  return value
}

/** Checks both subkeys are exactly 32 bytes and precomputes the HMAC pads. */
export function sqlFieldKeys(
  keys: { enc: Buffer; mac: Buffer },
  keyVersion: number,
): SqlFieldKeys {
  const enc = checkKey(keys.enc, 'enc')
  const mac = checkKey(keys.mac, 'mac')
  if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 0xffffffff) {
    throw new ValidationError(
      'keyVersion',
      `must be an integer in 1..2^32-1, got ${keyVersion}`,
    )
  }
  const { inner, outer } = hmacPads(mac)
  return { keyVersion, enc, inner, outer }
}

/**
 * Key bytes are bound as copies: a session may wipe its cached keys (close,
 * expiry) while a statement built from them is still on its way to the server,
 * and a wiped binding would seal data under an all-zero key.
 * The copies are short-lived garbage; crypto/bytes.ts says what wiping can promise.
 */
function copy(key: Buffer): Buffer {
  return Buffer.from(key)
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,63}$/

/** A checked, backquoted identifier, optionally qualified (`t.col`). */
export function quoteIdentifier(name: string): string {
  const parts = name.split('.')
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new ValidationError(
      'identifier',
      `must be a lower-case SQL identifier, got "${name}"`,
    )
  }
  return parts.map((p) => `\`${p}\``).join('.')
}

/**
 * `HMAC-SHA256(key, msg)` in SQL; `outer` and `inner` are where the pads come
 * from: `?` (bound, in that order, before those of `msgSql`) or key columns.
 */
function hmacSql(msgSql: string, outer = '?', inner = '?'): string {
  return `UNHEX(SHA2(CONCAT(${outer}, UNHEX(SHA2(CONCAT(${inner}, ${msgSql}), 256))), 256))`
}

/**
 * A scalar expression that evaluates to the envelope of `plaintext`. It is a
 * self-contained subquery over a derived row, so AES runs once and the plaintext
 * is bound once; it can stand in INSERT … VALUES and UPDATE … SET.
 *
 * @param aad the full AAD (`envelopeAad(table, column, rowId)` in crypto/envelope.ts)
 * @param iv  16 random bytes made per value by the caller (repositories/encrypted-fields.ts,
 *   which keeps it for the chart state); fresh ones when omitted
 */
export function sealSql(
  plaintext: Buffer,
  keys: SqlFieldKeys,
  aad: Buffer,
  iv: Buffer = randomBytes(16),
): CompiledStatement {
  if (!Buffer.isBuffer(plaintext))
    throw new ValidationError('plaintext', 'must be a Buffer')
  if (iv.length !== 16)
    throw new ValidationError('iv', `must be 16 bytes, got ${iv.length}`)
  // Checked on e.c: evaluated with this value's AES_ENCRYPT, in the same row.
  const checked = modeChecked('e.c', `CONCAT(e.h, e.c, ${hmacSql('?, e.h, e.c')})`)
  return {
    sql:
      `(SELECT ${checked.sql} ` +
      // A parameter selected into a derived table takes the connection charset
      // (utf8mb4) unless cast: MySQL 9.7 then fails with "Cannot convert string".
      `FROM (SELECT CAST(? AS BINARY) AS h, AES_ENCRYPT(?, ?, ?) AS c) AS e)`,
    bindings: [
      ...checked.bindings,
      copy(keys.outer),
      copy(keys.inner),
      aad,
      envelopeHeader(keys.keyVersion, iv),
      plaintext,
      copy(keys.enc),
      iv,
    ],
  }
}

/**
 * The envelope in `column` as three SQL fragments: whether its format byte and
 * tag verify (bindings: outer pad, inner pad, AAD prefix), its ciphertext and its IV.
 */
function envelopeParts(
  column: string,
  rowIdColumn: string,
  pads: { outer: string; inner: string } = { outer: '?', inner: '?' },
) {
  const c = quoteIdentifier(column)
  const id = quoteIdentifier(rowIdColumn)
  const signed = `LEFT(${c}, LENGTH(${c}) - ${TAG_BYTES})`
  return {
    c,
    verified:
      `LENGTH(${c}) >= ${ENVELOPE_MIN_BYTES} AND LEFT(${c}, 1) = ${VERSION_LITERAL} AND ` +
      `RIGHT(${c}, ${TAG_BYTES}) = ${hmacSql(`?, ${id}, ${signed}`, pads.outer, pads.inner)}`,
    ciphertext: `SUBSTRING(${c}, ${HEADER_BYTES + 1}, LENGTH(${c}) - ${HEADER_BYTES + TAG_BYTES})`,
    iv: `SUBSTRING(${c}, 6, 16)`,
  }
}

/**
 * An expression that verifies and opens the envelope in `column`:
 * NULL for a NULL column, `0x00` when the format byte or the tag is wrong,
 * else `0x01 ‖ plaintext`. Read results with {@link decodeOpened}.
 *
 * @param aadPrefix the AAD without the row id (`envelopeAad(…)` minus its last 16 bytes)
 * @param rowIdColumn the column holding the 16-byte row id that ends the AAD
 */
export function openSql(
  column: string,
  keys: SqlFieldKeys,
  aadPrefix: Buffer,
  rowIdColumn: string,
): CompiledStatement {
  const { c, verified, ciphertext, iv } = envelopeParts(column, rowIdColumn)
  const checked = modeChecked(
    c,
    `CASE WHEN ${verified} ` +
      `THEN COALESCE(CONCAT(0x01, AES_DECRYPT(${ciphertext}, ?, ${iv})), 0x00) ` +
      `ELSE 0x00 END`,
  )
  return {
    sql: `(CASE WHEN ${c} IS NULL THEN NULL ELSE ${checked.sql} END)`,
    bindings: [
      ...checked.bindings,
      copy(keys.outer),
      copy(keys.inner),
      aadPrefix,
      copy(keys.enc),
    ],
  }
}

/** Columns of a keys row (`keysRowSql`) holding one patient's field keys. */
export interface KeyColumns {
  /** The HMAC outer pad (64 bytes). */
  readonly outer: string
  /** The HMAC inner pad (64 bytes). */
  readonly inner: string
  /** The AES subkey (32 bytes). */
  readonly enc: string
}

/**
 * {@link openSql} with the keys read from columns of the same row instead of
 * bound: the expression is written once for rows of many patients, each row
 * joined with its own patient's keys row (rows-of-patients-sql.ts). Bindings: the mode check's, then the AAD prefix.
 */
export function openSqlWithKeyColumns(
  column: string,
  keyColumns: KeyColumns,
  aadPrefix: Buffer,
  rowIdColumn: string,
): CompiledStatement {
  const outer = quoteIdentifier(keyColumns.outer)
  const inner = quoteIdentifier(keyColumns.inner)
  const enc = quoteIdentifier(keyColumns.enc)
  const { c, verified, ciphertext, iv } = envelopeParts(column, rowIdColumn, {
    outer,
    inner,
  })
  const checked = modeChecked(
    c,
    `CASE WHEN ${verified} ` +
      `THEN COALESCE(CONCAT(0x01, AES_DECRYPT(${ciphertext}, ${enc}, ${iv})), 0x00) ` +
      `ELSE 0x00 END`,
  )
  return {
    sql: `(CASE WHEN ${c} IS NULL THEN NULL ELSE ${checked.sql} END)`,
    bindings: [...checked.bindings, aadPrefix],
  }
}

/**
 * One row per patient of `(pid, o, i, e)`: the patient id and its keys, bound,
 * to be joined with that patient's rows (a derived table of `patients.length`
 * rows), which the server materialises as an internal temporary table. Keys
 * must not reach disk: measured on MariaDB 11.8, with the parameters uncast
 * this table went to disk (Created_tmp_disk_tables + 1, an Aria table: a
 * parameter's column is a BLOB there). Each column is cast to its fixed width
 * in every branch (a union's column type is the widest of its branches); so
 * cast, it stays in memory on MariaDB 11.8 and MySQL 9.7
 * (test/sql/rows-of-patients-sql.test.ts).
 *
 * SELECT CAST(? AS BINARY(16)) AS pid, CAST(? AS BINARY(64)) AS o,
 *        CAST(? AS BINARY(64)) AS i, CAST(? AS BINARY(32)) AS e
 * UNION ALL SELECT ?, ?, ?, ? …
 */
export function keysRowsSql(
  patients: readonly { readonly patientId: Buffer; readonly keys: SqlFieldKeys }[],
): CompiledStatement {
  if (patients.length === 0) {
    throw new ValidationError('patients', 'must name at least one patient')
  }
  const first =
    'SELECT CAST(? AS BINARY(16)) AS pid, CAST(? AS BINARY(64)) AS o, ' +
    'CAST(? AS BINARY(64)) AS i, CAST(? AS BINARY(32)) AS e'
  const rest =
    ' UNION ALL SELECT CAST(? AS BINARY(16)), CAST(? AS BINARY(64)), CAST(? AS BINARY(64)), CAST(? AS BINARY(32))'
  return {
    sql: first + rest.repeat(patients.length - 1),
    bindings: patients.flatMap(({ patientId, keys }) => {
      if (patientId.length !== 16) {
        throw new ValidationError(
          'patientId',
          `must be 16 bytes, got ${patientId.length}`,
        )
      }
      return [patientId, copy(keys.outer), copy(keys.inner), copy(keys.enc)]
    }),
  }
}

/** True (1) when `column` is NULL or its envelope verifies under `keys`. */
export function verifiedSql(
  column: string,
  keys: SqlFieldKeys,
  aadPrefix: Buffer,
  rowIdColumn: string,
): CompiledStatement {
  const { c, verified } = envelopeParts(column, rowIdColumn)
  return {
    sql: `(${c} IS NULL OR (${verified}))`,
    bindings: [copy(keys.outer), copy(keys.inner), aadPrefix],
  }
}

/**
 * Re-encrypts the envelope in `column` from `from` keys to `to` keys without the
 * plaintext leaving the server: AES_DECRYPT with the old subkey, AES_ENCRYPT with
 * the new one under `newIvColumn` (16 random bytes per value, made in Node and
 * bound), and a new tag. The old tag must have been checked with
 * {@link verifiedSql} in the same transaction: this expression does not check it.
 * The new ciphertext is written as the same deterministic expression twice (body
 * and tag input) instead of through a derived table, which could not see the
 * outer row on MariaDB (no LATERAL).
 */
export function resealSql(
  column: string,
  from: SqlFieldKeys,
  to: SqlFieldKeys,
  aadPrefix: Buffer,
  rowIdColumn: string,
  newIvColumn: string,
): CompiledStatement {
  const { c, ciphertext, iv } = envelopeParts(column, rowIdColumn)
  const id = quoteIdentifier(rowIdColumn)
  const newIv = quoteIdentifier(newIvColumn)
  const newHeader = envelopeHeader(to.keyVersion, Buffer.alloc(16)).subarray(0, 5)
  const body = `AES_ENCRYPT(AES_DECRYPT(${ciphertext}, ?, ${iv}), ?, ${newIv})`
  const checked = modeChecked(
    c,
    `CONCAT(?, ${newIv}, ${body}, ${hmacSql(`?, ${id}, ?, ${newIv}, ${body}`)})`,
  )
  return {
    sql: `(CASE WHEN ${c} IS NULL THEN NULL ELSE ${checked.sql} END)`,
    bindings: [
      ...checked.bindings,
      newHeader,
      copy(from.enc),
      copy(to.enc),
      copy(to.outer),
      copy(to.inner),
      aadPrefix,
      newHeader,
      copy(from.enc),
      copy(to.enc),
    ],
  }
}

/** Result of {@link openSql}: `null` for NULL, `'tampered'` for a failed check, else the plaintext. */
export function decodeOpened(value: Buffer | null): Buffer | null | 'tampered' {
  if (value === null) return null
  if (value.length === 0 || value[0] !== 0x01) return 'tampered'
  return value.subarray(1)
}
