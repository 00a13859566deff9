/**
 * The user's key-encryption key (KEK): scrypt of the normalised password with a
 * per-user 16-byte salt (docs/concepts.md). It wraps the user's X25519 private key and is
 * never stored.
 * @module
 */
import { scrypt } from 'node:crypto'
import { abytes, randomBytes, wipe } from './bytes.js'
import { ainteger } from './checks.js'
import { assertScryptParams, type ScryptParams } from './kdf-policy.js'
import { normalizePassword } from './password.js'

/** Length of a KEK: an AES-256 key. */
export const KEK_BYTES = 32
/** Length of a KDF salt: 128 bits (NIST SP 800-132 §5.1 asks for at least 128). */
export const KDF_SALT_BYTES = 16
/** The longest output `scryptRaw` produces; RFC 7914's vectors use 64. */
export const SCRYPT_MAX_OUTPUT_BYTES = 1024

/** Slack added to scrypt's exact memory need, in case OpenSSL's accounting changes. */
const MAXMEM_HEADROOM = 2 ** 20

/**
 * The `maxmem` to pass to node's scrypt for `params`.
 *
 * Node's default is 32 MiB and throws for N=2^17, r=8. OpenSSL's
 * `EVP_PBE_scrypt` needs the large array V, 128·r·(N+2) bytes, plus the p blocks B,
 * 128·r·p bytes: measured here, `maxmem` = 128·r·(N+p+2) is the least that works for
 * N=2^17 r=8 p=1, N=16 r=1 p=1 and N=1024 r=8 p=16, and 128·N·r alone throws
 * "memory limit exceeded". We add 1 MiB of headroom.
 *
 * @param params - validated scrypt parameters
 * @returns the byte limit to allow
 */
export function scryptMaxmem(params: ScryptParams): number {
  return 128 * params.r * (params.N + params.p + 2) + MAXMEM_HEADROOM
}

/**
 * scrypt over raw bytes, with `maxmem` computed from the parameters. This is the call
 * {@link deriveKek} makes; it is exported so the RFC 7914 vectors (which use 64-byte
 * outputs and arbitrary salts) test the code path we ship.
 *
 * Async: each derivation at policy costs takes ≈0.25 s and 128 MiB on libuv's thread
 * pool, so it must not block the event loop. Each concurrent call holds its memory.
 *
 * @param password - password bytes (any length, including empty)
 * @param salt - salt bytes (any length)
 * @param params - scrypt costs, checked by `assertScryptParams`
 * @param length - output length, 1 to {@link SCRYPT_MAX_OUTPUT_BYTES}
 * @returns the derived bytes (secret: wipe when done)
 */
export async function scryptRaw(
  password: Buffer,
  salt: Buffer,
  params: ScryptParams,
  length: number,
): Promise<Buffer> {
  abytes(password, 'password')
  abytes(salt, 'salt')
  assertScryptParams(params, 'params')
  ainteger(length, 'length', 1, SCRYPT_MAX_OUTPUT_BYTES)
  const { N, r, p } = params
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      length,
      { N, r, p, maxmem: scryptMaxmem(params) },
      (err, key) => {
        if (err) reject(err)
        else resolve(key)
      },
    )
  })
}

/**
 * Derives the user's 32-byte KEK from their password.
 *
 * @param password - the password as typed; normalised exactly as for the verifier
 * @param salt - the user's 16-byte KEK salt, independent of bcrypt's salt
 * @param params - scrypt costs stored with the user (policy: `KDF_POLICY.scrypt`)
 * @returns the 32-byte KEK (secret: wipe when done)
 * @throws TypeError / RangeError as `normalizePassword`, or for a bad salt or params
 */
export async function deriveKek(
  password: string,
  salt: Buffer,
  params: ScryptParams,
): Promise<Buffer> {
  abytes(salt, 'salt', KDF_SALT_BYTES)
  assertScryptParams(params, 'params')
  const bytes = normalizePassword(password)
  try {
    return await scryptRaw(bytes, salt, params, KEK_BYTES)
  } finally {
    wipe(bytes)
  }
}

/**
 * A fresh random KEK salt: 16 bytes from the CSPRNG. Generate a new one whenever the
 * password changes, and never reuse bcrypt's salt.
 *
 * @returns 16 random bytes
 */
export function newKdfSalt(): Buffer {
  return randomBytes(KDF_SALT_BYTES)
}
