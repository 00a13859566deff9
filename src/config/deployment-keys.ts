import { isUsableX25519PublicKey } from '../crypto/keypair.js'
import { ConfigurationError } from '../errors/index.js'

/** The variables read by {@link deploymentKeysFromEnv}. */
export const DEPLOYMENT_KEY_ENV = {
  auditKey: 'EMR_VAULT_AUDIT_KEY',
  recoveryPublicKey: 'EMR_VAULT_RECOVERY_PUBLIC_KEY',
  searchKey: 'EMR_VAULT_SEARCH_KEY',
  previousSearchKey: 'EMR_VAULT_PREVIOUS_SEARCH_KEY',
} as const

/** The keys a deployment passes to createVault or openVault. */
export interface DeploymentKeys {
  /** 32 bytes: the MAC key of the audit chain. */
  readonly auditKey: Buffer
  /** 32 bytes: the organisation's X25519 recovery public key. */
  readonly recoveryPublicKey: Buffer
  /** 32 bytes: the organisation search key, from which every search index's key is derived. */
  readonly searchKey: Buffer
  /** The search key being replaced, while the indexes are rebuilt under the new one. */
  readonly previousSearchKey?: Buffer
}

/**
 * Standard base64 (RFC 4648 §4) of exactly 32 bytes, in its one canonical form:
 * 43 characters and one `=`, the last character before it carrying no stray
 * bits (only A E I M … 0 4 8 can stand there). No URL-safe alphabet, no missing
 * padding, no spaces or line breaks: Node's decoder would skip or accept all of
 * those, so a truncated or mangled secret could otherwise decode to another key.
 */
const CANONICAL_BASE64_OF_32_BYTES = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/

/**
 * One key from the environment. The messages name the variable and the rule,
 * never the value or anything derived from it (its length included): they end
 * up in logs and bug reports.
 */
function readKey(env: NodeJS.ProcessEnv, name: string, what: string): Buffer {
  const value = env[name]
  if (value === undefined || value === '') {
    throw new ConfigurationError(`${name} is not set: it must hold ${what}`)
  }
  const key = CANONICAL_BASE64_OF_32_BYTES.test(value)
    ? Buffer.from(value, 'base64')
    : undefined
  // The round trip is the regular expression's second opinion on "canonical".
  if (!key || key.length !== 32 || key.toString('base64') !== value) {
    key?.fill(0)
    throw new ConfigurationError(
      `${name} is not ${what}: expected the standard base64 of exactly 32 bytes ` +
        '(44 characters ending in "=", nothing before or after)',
    )
  }
  // Buffer.from(string) slices small results out of a shared 8 KiB pool; the
  // key gets memory of its own, so nothing that holds the pool's ArrayBuffer
  // holds the key, and wiping it wipes the only copy.
  const own = Buffer.alloc(32)
  key.copy(own)
  key.fill(0)
  return own
}

/**
 * The audit key from EMR_VAULT_AUDIT_KEY (make one with `openssl rand -base64 32`).
 * All zero bytes is refused: that is a placeholder copied from a template, and a
 * chain keyed with it could be rebuilt by anyone.
 *
 * @throws ConfigurationError naming the variable when it is missing or malformed
 */
export function auditKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer {
  const name = DEPLOYMENT_KEY_ENV.auditKey
  const key = readKey(env, name, 'the audit key (base64 of 32 random bytes)')
  if (key.every((b) => b === 0)) {
    throw new ConfigurationError(`${name} is all zero bytes: a placeholder, not a key`)
  }
  return key
}

/**
 * The recovery public key from EMR_VAULT_RECOVERY_PUBLIC_KEY (the `publicKey` of
 * the file `emr-vault recovery init` writes). A low-order X25519 point, such as
 * all zeros, is refused: no patient key could be sealed to it.
 *
 * @throws ConfigurationError naming the variable when it is missing or malformed
 */
export function recoveryPublicKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer {
  const name = DEPLOYMENT_KEY_ENV.recoveryPublicKey
  const key = readKey(
    env,
    name,
    'the recovery public key (base64 of a 32-byte X25519 public key)',
  )
  if (!isUsableX25519PublicKey(key)) {
    throw new ConfigurationError(
      `${name} is not a usable X25519 public key (a low-order point, such as all zeros)`,
    )
  }
  return key
}

/**
 * The search key from EMR_VAULT_SEARCH_KEY (`openssl rand -base64 32`), and the
 * one it replaces from EMR_VAULT_PREVIOUS_SEARCH_KEY while a rotation runs.
 * Anyone holding it and a copy of the database can test guesses against the
 * indexes (a dictionary of names, every date of birth), so it is kept like the
 * audit key: a secret store, never the database. All zero bytes is refused.
 *
 * @throws ConfigurationError naming the variable when it is missing or malformed
 */
export function searchKeyFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  name: string = DEPLOYMENT_KEY_ENV.searchKey,
): Buffer {
  const key = readKey(env, name, 'a search key (base64 of 32 random bytes)')
  if (key.every((b) => b === 0)) {
    throw new ConfigurationError(`${name} is all zero bytes: a placeholder, not a key`)
  }
  return key
}

/**
 * Reads and checks the deployment's keys from the environment (or from `env`):
 * EMR_VAULT_AUDIT_KEY, EMR_VAULT_RECOVERY_PUBLIC_KEY and EMR_VAULT_SEARCH_KEY (and
 * EMR_VAULT_PREVIOUS_SEARCH_KEY during a search-key rotation), each the standard
 * base64 of 32 bytes. The result goes to createVault or openVault as it is.
 *
 * The audit key must stay the same for the life of the database (the chain
 * written with one key neither verifies nor extends with another), so it belongs
 * in the deployment's secret store, never in code or in the database.
 *
 * @throws ConfigurationError naming the first variable that is missing or
 *   malformed; the message never contains the value
 */
export function deploymentKeysFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): DeploymentKeys {
  return {
    auditKey: auditKeyFromEnv(env),
    recoveryPublicKey: recoveryPublicKeyFromEnv(env),
    searchKey: searchKeyFromEnv(env),
    ...(env[DEPLOYMENT_KEY_ENV.previousSearchKey]
      ? {
          previousSearchKey: searchKeyFromEnv(env, DEPLOYMENT_KEY_ENV.previousSearchKey),
        }
      : {}),
  }
}
