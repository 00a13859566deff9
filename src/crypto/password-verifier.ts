/**
 * The login verifier: bcrypt of the normalised password (docs/concepts.md), kept apart
 * from the KEK derivation, with its own salt (bcrypt makes one per hash).
 * @module
 */
import { createRequire } from 'node:module'
import { ainteger, describeType } from './checks.js'
import { wipe } from './bytes.js'
import { normalizePassword } from './password.js'

/**
 * The subset of the `bcrypt` package (v6, native) that we use. The package ships no
 * types, so we declare only what we call (as kysely does for mysql2's `Pool`).
 */
interface Bcrypt {
  hash(data: Buffer, rounds: number): Promise<string>
  compare(data: Buffer, encrypted: string): Promise<boolean>
}

const bcrypt = createRequire(import.meta.url)('bcrypt') as Bcrypt

/** The smallest cost bcrypt accepts; only tests use it (TEST_KDF_POLICY). */
export const BCRYPT_MIN_COST = 4
/** The largest cost the `$2b$` format can express. */
export const BCRYPT_MAX_COST = 31

/**
 * A modular-crypt bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost, then 53
 * characters of bcrypt's base64 (22 of salt, 31 of hash).
 */
const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/

/**
 * Hashes a password for the login verifier.
 *
 * @param password - the password as typed; normalised by `normalizePassword`
 * @param cost - bcrypt's log2 work factor, 4 to 31 (policy: `KDF_POLICY.bcryptCost`, 12)
 * @returns the `$2b$…` hash string to store
 * @throws TypeError / RangeError as `normalizePassword`, or for a bad `cost`
 */
export async function hashPasswordVerifier(
  password: string,
  cost: number,
): Promise<string> {
  ainteger(cost, 'cost', BCRYPT_MIN_COST, BCRYPT_MAX_COST)
  const bytes = normalizePassword(password)
  try {
    return await bcrypt.hash(bytes, cost)
  } finally {
    wipe(bytes)
  }
}

/**
 * Checks a password against a stored verifier (bcrypt compares in constant time).
 *
 * A password that `normalizePassword` rejects (for example longer than 72 bytes)
 * throws rather than returning false: it can never have been stored, and the caller
 * should report it as a failed login without revealing which check failed.
 *
 * @param password - the password as typed
 * @param hash - the stored bcrypt hash
 * @returns whether the password matches
 * @throws TypeError / RangeError as `normalizePassword`, or if `hash` is not a bcrypt hash
 */
export async function checkPasswordVerifier(
  password: string,
  hash: string,
): Promise<boolean> {
  bcryptCostOf(hash)
  const bytes = normalizePassword(password)
  try {
    return await bcrypt.compare(bytes, hash)
  } finally {
    wipe(bytes)
  }
}

/**
 * Reads the cost from a bcrypt hash, so the caller can re-hash at the next login when
 * it is below policy.
 *
 * @param hash - a bcrypt hash (`$2a$`, `$2b$` or `$2y$`)
 * @returns its cost, 4 to 31
 * @throws TypeError if `hash` is not a string
 * @throws RangeError if it is not a well-formed bcrypt hash
 */
export function bcryptCostOf(hash: string): number {
  if (typeof hash !== 'string') {
    throw new TypeError(`"hash" must be a string, got ${describeType(hash)}`)
  }
  const match = BCRYPT_HASH.exec(hash)
  const cost = match?.[1] === undefined ? NaN : Number(match[1])
  if (!(cost >= BCRYPT_MIN_COST && cost <= BCRYPT_MAX_COST)) {
    throw new RangeError(
      `"hash" must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 04 to 31, 60 characters)`,
    )
  }
  return cost
}
