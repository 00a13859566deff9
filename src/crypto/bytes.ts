/**
 * Byte helpers shared by every crypto module: argument checks, zeroisation and
 * randomness. This is the leaf of the crypto module graph (noble's `utils.ts`).
 *
 * What zeroising with {@link wipe} buys, and what it does not:
 * - It overwrites the one copy of a secret that we own (a `Buffer` we allocated or were
 *   handed), so a heap snapshot, a core dump or a later out-of-bounds read is less
 *   likely to find it, and the window in which it sits in memory is shorter.
 * - It does NOT reach copies we do not own. JavaScript gives no guarantee here
 *   (noble-hashes `utils.ts`: "Warning: JS provides no guarantees"):
 *   - JS strings (a password, an id, a JWK's `d`) are immutable; V8 may intern, copy
 *     or move them, and they stay until the garbage collector reuses the memory;
 *   - V8 and Node copy buffers internally (`Buffer.concat`, `TextEncoder`, WebCrypto
 *     `importKey`, `ArrayBuffer.slice` inside libraries such as `@hpke/core`);
 *   - OpenSSL holds its own copies of keys and of cipher state inside `KeyObject`s and
 *     `Cipher` objects, which it frees (and mostly cleanses) on its own schedule;
 *   - the operating system may have swapped a page out before we wiped it.
 * So wiping is defence in depth, best effort: it shortens the life of secrets we
 * control; it is no substitute for keeping the process itself trusted.
 * @module
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto'
import { describeType } from './checks.js'

/**
 * Asserts that `value` is a `Buffer` (and, if `length` is given, exactly that long).
 *
 * Only `Buffer` is accepted, not any `Uint8Array`: the whole project passes `Buffer`s to
 * node:crypto and mysql2, and a plain `Uint8Array` has no `equals`/`toString('hex')`,
 * so accepting it would only move the type error further from its cause.
 * The message names the argument and its length, never its bytes.
 *
 * @param value - the argument to check
 * @param name - the argument's name, used in the message
 * @param length - the exact byte length required, if any
 * @throws TypeError if `value` is not a Buffer
 * @throws RangeError if `length` is given and differs
 * @example
 * ```ts
 * abytes(key, 'key', 32) // RangeError: "key" must be 32 bytes, got 16
 * ```
 */
export function abytes(
  value: unknown,
  name: string,
  length?: number,
): asserts value is Buffer {
  if (!Buffer.isBuffer(value)) {
    throw new TypeError(`"${name}" must be a Buffer, got ${describeType(value)}`)
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`"${name}" must be ${length} bytes, got ${value.length}`)
  }
}

/**
 * Zero-fills each given buffer in place (best effort; see the module comment for
 * what this does and does not protect). `undefined` entries are skipped, so callers
 * can wipe in a `finally` block without tracking which buffers were allocated.
 *
 * @param bufs - the buffers to wipe
 */
export function wipe(...bufs: (Buffer | undefined)[]): void {
  for (const buf of bufs) buf?.fill(0)
}

/** The largest `randomBytes` request accepted: far above any key, IV or salt we use. */
export const MAX_RANDOM_BYTES = 65_536

/**
 * Returns `n` bytes from the operating system's CSPRNG (node:crypto `randomBytes`;
 * NIST SP 800-63B §5.1.1.2 asks for salts from an approved random generator).
 *
 * @param n - how many bytes, an integer from 0 to {@link MAX_RANDOM_BYTES}
 * @returns a new Buffer, owned by the caller (wipe it if it is secret)
 * @throws TypeError if `n` is not an integer
 * @throws RangeError if `n` is out of range
 */
export function randomBytes(n: number): Buffer {
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw new TypeError(`"n" must be an integer, got ${describeType(n)}`)
  }
  if (n < 0 || n > MAX_RANDOM_BYTES) {
    throw new RangeError(`"n" must be from 0 to ${MAX_RANDOM_BYTES}, got ${n}`)
  }
  return nodeRandomBytes(n)
}
