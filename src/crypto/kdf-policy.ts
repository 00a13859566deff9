/**
 * THE one place for password-KDF parameters. Every derivation and every "rehash on
 * next login" decision reads them from here; nothing else hard-codes a cost.
 * @module
 */
import { describeType } from './checks.js'

/** scrypt cost parameters (RFC 7914 §2): CPU/memory cost `N`, block size `r`, parallelism `p`. */
export type ScryptParams = Readonly<{ N: number; r: number; p: number }>

/** A full set of password-KDF costs: the KEK's scrypt and the login verifier's bcrypt. */
export type KdfPolicy = Readonly<{ scrypt: ScryptParams; bcryptCost: number }>

/**
 * Production costs.
 * - scrypt N=2^17, r=8, p=1: OWASP Password Storage Cheat Sheet's first scrypt
 *   option (about 128 MiB per derivation; measured ≈0.25 s on this project's 2-core
 *   machine).
 * - bcrypt cost 12: OWASP asks for at least 10; 12 costs ~180 ms here.
 */
export const KDF_POLICY: KdfPolicy = Object.freeze({
  scrypt: Object.freeze({ N: 2 ** 17, r: 8, p: 1 }),
  bcryptCost: 12,
})

/**
 * Cheap costs for tests only (scrypt N=2^10, bcrypt cost 4, the smallest bcrypt
 * accepts). Never use in production: these are brute-forceable.
 */
export const TEST_KDF_POLICY: KdfPolicy = Object.freeze({
  scrypt: Object.freeze({ N: 2 ** 10, r: 8, p: 1 }),
  bcryptCost: 4,
})

/**
 * Upper bound on scrypt's large array V, 128·N·r bytes (RFC 7914 §5). Stored params
 * are read back from the database, so a tampered row must not be able to make a login
 * allocate gigabytes. 1 GiB admits RFC 7914 §12's largest vector (N=2^20, r=8).
 */
export const SCRYPT_MAX_V_BYTES = 2 ** 30

/** Upper bound on scrypt's `p`, for the same reason (OWASP's options use p ≤ 10). */
export const SCRYPT_MAX_P = 16

/**
 * Asserts that `params` is a valid, bounded set of scrypt parameters: `N` a power of
 * two ≥ 2 (RFC 7914 §2), `r` and `p` positive integers, 128·N·r ≤
 * {@link SCRYPT_MAX_V_BYTES} and p ≤ {@link SCRYPT_MAX_P}.
 *
 * @param params - the argument to check
 * @param name - the argument's name, used in the message
 * @throws TypeError if it is not an object of integers
 * @throws RangeError if a value is out of range
 */
export function assertScryptParams(
  params: unknown,
  name: string,
): asserts params is ScryptParams {
  if (typeof params !== 'object' || params === null) {
    throw new TypeError(
      `"${name}" must be an object { N, r, p }, got ${describeType(params)}`,
    )
  }
  const { N, r, p } = params as Record<string, unknown>
  for (const [key, v] of [
    ['N', N],
    ['r', r],
    ['p', p],
  ] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw new TypeError(`"${name}.${key}" must be an integer, got ${describeType(v)}`)
    }
  }
  const n = N as number
  const rr = r as number
  const pp = p as number
  // Bound N before the bitwise test: `&` works on 32-bit integers.
  if (n < 2 || n > 2 ** 30 || (n & (n - 1)) !== 0) {
    throw new RangeError(`"${name}.N" must be a power of two from 2 to 2^30, got ${n}`)
  }
  if (rr < 1 || pp < 1 || pp > SCRYPT_MAX_P) {
    throw new RangeError(
      `"${name}.r" must be ≥ 1 and "${name}.p" from 1 to ${SCRYPT_MAX_P}, got r=${rr}, p=${pp}`,
    )
  }
  if (128 * n * rr > SCRYPT_MAX_V_BYTES) {
    throw new RangeError(
      `"${name}" needs 128·N·r = ${128 * n * rr} bytes, above the limit ${SCRYPT_MAX_V_BYTES}`,
    )
  }
}

/**
 * Whether stored costs are weaker than a policy, so the caller should re-derive with
 * the policy's costs at the next successful login (OWASP: "upgrading the work factor").
 *
 * The comparison is component-wise and conservative: any of scrypt `N`, `r`, `p` or
 * the bcrypt cost below the policy's counts as below, even where another component
 * is higher (OWASP lists trade-offs such as N=2^16, p=2, but a lower N is less
 * memory-hard, so we re-derive rather than judge equivalence).
 *
 * @param stored - the costs stored with a user
 * @param policy - the costs to compare with (normally {@link KDF_POLICY})
 * @returns true if any stored cost is below the policy's
 */
export function isBelowPolicy(stored: KdfPolicy, policy: KdfPolicy): boolean {
  assertKdfPolicy(stored, 'stored')
  assertKdfPolicy(policy, 'policy')
  const s = stored.scrypt
  const q = policy.scrypt
  return s.N < q.N || s.r < q.r || s.p < q.p || stored.bcryptCost < policy.bcryptCost
}

function assertKdfPolicy(value: unknown, name: string): asserts value is KdfPolicy {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(
      `"${name}" must be an object { scrypt, bcryptCost }, got ${describeType(value)}`,
    )
  }
  const { scrypt, bcryptCost } = value as Record<string, unknown>
  assertScryptParams(scrypt, `${name}.scrypt`)
  if (typeof bcryptCost !== 'number' || !Number.isInteger(bcryptCost)) {
    throw new TypeError(
      `"${name}.bcryptCost" must be an integer, got ${describeType(bcryptCost)}`,
    )
  }
}
