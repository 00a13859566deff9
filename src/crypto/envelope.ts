/**
 * The stored field format of docs/envelope.md, encrypt-then-MAC:
 *
 * ```text
 * envelope = 0x01 ‖ keyVersion (uint32 BE) ‖ iv (16) ‖ AES-256-CBC(enc, iv, pt) ‖ tag (32)
 * tag      = HMAC-SHA256(mac, aad ‖ everything before the tag)
 * aad      = "emr-vault/v1" ‖ len8 ‖ table ‖ len8 ‖ column ‖ rowId (16)
 * ```
 *
 * Production forms and opens envelopes inside MySQL (`AES_ENCRYPT` plus the HMAC from
 * `hmacPads`); this module is the pure-Node reference implementation that tests and
 * benchmarks cross-check SQL against, byte for byte (pass the same `iv`).
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { abytes, randomBytes, wipe } from './bytes.js'
import { ainteger, describeType } from './checks.js'
import { AES_BLOCK_BYTES, aes256CbcDecrypt, aes256CbcEncrypt } from './aes-cbc.js'
import { u32be, u8Prefixed } from './encoding.js'
import { FIELD_KEY_BYTES, type FieldKeys } from './field-keys.js'
import { HMAC_SHA256_BYTES, hmacSha256 } from './hmac.js'
import { OpenFailedError } from './open-failed-error.js'

/** First byte of every envelope. */
export const ENVELOPE_VERSION = 0x01
/** IV length (one AES block). */
export const ENVELOPE_IV_BYTES = AES_BLOCK_BYTES
/** Offset of the IV in the header: after the version (1) and key version (4). */
const IV_OFFSET = 1 + 4
/** Header length: version (1) + key version (4) + IV (16). */
export const ENVELOPE_HEADER_BYTES = IV_OFFSET + ENVELOPE_IV_BYTES
/** Tag length (HMAC-SHA256, untruncated). */
export const ENVELOPE_TAG_BYTES = HMAC_SHA256_BYTES
/** Fixed overhead: header + tag (53 bytes); padding adds 1 to 16 more. */
export const ENVELOPE_FIXED_OVERHEAD_BYTES = ENVELOPE_HEADER_BYTES + ENVELOPE_TAG_BYTES
/** Largest overhead: fixed overhead + a full block of PKCS#7 padding (69 bytes). */
export const ENVELOPE_MAX_OVERHEAD_BYTES = ENVELOPE_FIXED_OVERHEAD_BYTES + AES_BLOCK_BYTES
/** Shortest envelope (empty plaintext: one block of padding). */
export const ENVELOPE_MIN_BYTES = ENVELOPE_MAX_OVERHEAD_BYTES
/** Length of a row id in the AAD (UUIDv7 as `BINARY(16)`). */
export const ROW_ID_BYTES = 16
/** Largest key version (uint32). */
export const MAX_ENVELOPE_KEY_VERSION = 0xffff_ffff

/** Fixed label at the head of the AAD: no other AAD of ours starts with it. */
const AAD_LABEL = Buffer.from('emr-vault/v1', 'ascii')
/** Unquoted lower-case MySQL identifiers, at most 64 characters (MySQL's limit). */
const IDENTIFIER = /^[a-z0-9_]{1,64}$/

/**
 * The exact envelope length for a plaintext, for sizing `VARBINARY` columns:
 * 53 + 16·(⌊n/16⌋ + 1).
 *
 * @param plaintextBytes - plaintext length in bytes
 * @returns the envelope length in bytes
 */
export function envelopeLength(plaintextBytes: number): number {
  ainteger(plaintextBytes, 'plaintextBytes', 0, Number.MAX_SAFE_INTEGER - 2 ** 10)
  const padded = (Math.floor(plaintextBytes / AES_BLOCK_BYTES) + 1) * AES_BLOCK_BYTES
  return ENVELOPE_FIXED_OVERHEAD_BYTES + padded
}

/**
 * The AAD naming where a value is stored, so an envelope copied to another table,
 * column or row fails its tag. Self-delimiting: a fixed label, two length-prefixed
 * identifiers, then exactly 16 bytes.
 *
 * @param table - table name, `[a-z0-9_]{1,64}`
 * @param column - column name, `[a-z0-9_]{1,64}`
 * @param rowId - the row's 16-byte id
 * @returns the AAD bytes
 * @throws TypeError for a non-string identifier or a non-Buffer row id
 * @throws RangeError for an identifier outside `[a-z0-9_]{1,64}` or a row id not 16 bytes
 */
export function envelopeAad(table: string, column: string, rowId: Buffer): Buffer {
  const id = (value: unknown, name: string): Buffer => {
    if (typeof value !== 'string') {
      throw new TypeError(`"${name}" must be a string, got ${describeType(value)}`)
    }
    if (!IDENTIFIER.test(value)) {
      throw new RangeError(
        `"${name}" must match [a-z0-9_]{1,64}, got ${value.length} characters`,
      )
    }
    return u8Prefixed(Buffer.from(value, 'ascii'))
  }
  const t = id(table, 'table')
  const c = id(column, 'column')
  abytes(rowId, 'rowId', ROW_ID_BYTES)
  return Buffer.concat([AAD_LABEL, t, c, rowId])
}

/**
 * The 21-byte envelope header, `0x01 ‖ keyVersion (uint32 BE) ‖ iv`. SQL builders pass
 * it as a parameter and append the `AES_ENCRYPT` output and the tag.
 *
 * @param keyVersion - the patient key version, 0 to 2^32 − 1
 * @param iv - the 16-byte IV
 * @returns the header bytes
 */
export function envelopeHeader(keyVersion: number, iv: Buffer): Buffer {
  ainteger(keyVersion, 'keyVersion', 0, MAX_ENVELOPE_KEY_VERSION)
  abytes(iv, 'iv', ENVELOPE_IV_BYTES)
  return Buffer.concat([Buffer.of(ENVELOPE_VERSION), u32be(keyVersion), iv])
}

function assertFieldKeys(keys: unknown): asserts keys is FieldKeys {
  if (typeof keys !== 'object' || keys === null) {
    throw new TypeError(
      `"keys" must be an object { enc, mac }, got ${describeType(keys)}`,
    )
  }
  const { enc, mac } = keys as Record<string, unknown>
  abytes(enc, 'keys.enc', FIELD_KEY_BYTES)
  abytes(mac, 'keys.mac', FIELD_KEY_BYTES)
}

/**
 * Seals a value (reference implementation of the SQL path).
 *
 * @param plaintext - the value's bytes
 * @param keys - field subkeys from `deriveFieldKeys`
 * @param keyVersion - the version of the patient key that `keys` came from
 * @param aad - from {@link envelopeAad}
 * @param iv - a 16-byte IV; omit it in production (16 fresh random bytes). Pass one
 *   only to reproduce an envelope made elsewhere (SQL cross-checks)
 * @returns the envelope
 * @throws TypeError / RangeError for bad arguments
 */
export function sealEnvelope(
  plaintext: Buffer,
  keys: FieldKeys,
  keyVersion: number,
  aad: Buffer,
  iv?: Buffer,
): Buffer {
  abytes(plaintext, 'plaintext')
  assertFieldKeys(keys)
  abytes(aad, 'aad')
  const header = envelopeHeader(
    keyVersion,
    iv === undefined ? randomBytes(ENVELOPE_IV_BYTES) : iv,
  )
  const ciphertext = aes256CbcEncrypt(keys.enc, header.subarray(IV_OFFSET), plaintext)
  const tag = hmacSha256(keys.mac, aad, header, ciphertext)
  return Buffer.concat([header, ciphertext, tag])
}

/**
 * Opens a value: verifies the tag first (constant-time), and only then decrypts, so
 * no padding check ever runs on unauthenticated data.
 *
 * @param envelope - the stored envelope
 * @param keys - field subkeys of the key version the envelope names
 * @param aad - from {@link envelopeAad} for the row and column it was read from
 * @returns the plaintext (secret: wipe when done)
 * @throws OpenFailedError on a malformed envelope, a bad tag (wrong keys, another
 *   table, column or row, any altered byte) or bad padding under a good tag
 * @throws TypeError / RangeError for arguments of the wrong type or key length
 */
export function openEnvelope(envelope: Buffer, keys: FieldKeys, aad: Buffer): Buffer {
  abytes(envelope, 'envelope')
  assertFieldKeys(keys)
  abytes(aad, 'aad')
  const bodyLength = envelope.length - ENVELOPE_FIXED_OVERHEAD_BYTES
  if (
    envelope.length < ENVELOPE_MIN_BYTES ||
    bodyLength % AES_BLOCK_BYTES !== 0 ||
    envelope[0] !== ENVELOPE_VERSION
  ) {
    throw new OpenFailedError()
  }
  const tagAt = envelope.length - ENVELOPE_TAG_BYTES
  const expected = hmacSha256(keys.mac, aad, envelope.subarray(0, tagAt))
  const ok = timingSafeEqual(expected, envelope.subarray(tagAt))
  wipe(expected)
  if (!ok) throw new OpenFailedError()
  const iv = envelope.subarray(IV_OFFSET, ENVELOPE_HEADER_BYTES)
  return aes256CbcDecrypt(keys.enc, iv, envelope.subarray(ENVELOPE_HEADER_BYTES, tagAt))
}

/**
 * Reads the key version from an envelope's header, to choose which patient key
 * version to open it with. The value is not authenticated until `openEnvelope`
 * succeeds (the tag covers it).
 *
 * @param envelope - a stored envelope
 * @returns its key version
 * @throws OpenFailedError if it is too short or not version 0x01
 * @throws TypeError if it is not a Buffer
 */
export function envelopeKeyVersion(envelope: Buffer): number {
  abytes(envelope, 'envelope')
  if (envelope.length < ENVELOPE_MIN_BYTES || envelope[0] !== ENVELOPE_VERSION) {
    throw new OpenFailedError()
  }
  return envelope.readUInt32BE(1)
}
