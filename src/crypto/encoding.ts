/**
 * Unambiguous byte encodings for associated data (AAD). Every variable-length field is
 * length-prefixed, so two different field lists can never encode to the same bytes
 * (the "canonicalization" pitfall: "ab"‖"c" = "a"‖"bc").
 * @module
 */

/**
 * `len (uint8) ‖ bytes`.
 *
 * @param bytes - at most 255 bytes (checked by the caller's argument checks)
 * @returns a new Buffer
 */
export function u8Prefixed(bytes: Buffer): Buffer {
  if (bytes.length > 0xff)
    throw new RangeError(`field too long for uint8 prefix: ${bytes.length}`)
  return Buffer.concat([Buffer.of(bytes.length), bytes])
}

/**
 * `len (uint16 big-endian) ‖ bytes`.
 *
 * @param bytes - at most 65535 bytes (checked by the caller's argument checks)
 * @returns a new Buffer
 */
export function u16Prefixed(bytes: Buffer): Buffer {
  if (bytes.length > 0xffff) {
    throw new RangeError(`field too long for uint16 prefix: ${bytes.length}`)
  }
  const len = Buffer.alloc(2)
  len.writeUInt16BE(bytes.length)
  return Buffer.concat([len, bytes])
}

/**
 * A uint32 in network byte order (big-endian), as RFC 9180's `I2OSP(n, 4)`.
 *
 * @param n - an integer from 0 to 2^32 − 1 (checked by the caller)
 * @returns 4 bytes
 */
export function u32be(n: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(n)
  return out
}
