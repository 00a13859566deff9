import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import {
  auditKeyFromEnv,
  DEPLOYMENT_KEY_ENV,
  recoveryPublicKeyFromEnv,
  searchKeyFromEnv,
} from '../config/deployment-keys.js'
import { generateUserKeyPair as generateRecoveryKeyPair } from '../crypto/keypair.js'
import { isDbConfigured } from '../db/index.js'
import { defaultStateRoot, ensureStateRoot } from '../testing/local-db/paths.js'
import { isDevelopmentEnvironment } from '../testing/local-db/server.js'

/**
 * Whether a key that is not configured may come from .emr-vault/ instead.
 * Development keys go only with the private local server. Against a configured
 * server (any environment) a missing key is an error: a dev recovery key would
 * seal patient keys to a private half lying in .emr-vault/, and a dev audit key
 * would start a second chain that the deployment's key does not verify.
 */
function mayUseDevelopmentKey(variable: string): boolean {
  if (process.env[variable]) return false
  return isDevelopmentEnvironment() && !isDbConfigured()
}

/** Where the development recovery key pair lives: inside the clone, gitignored. */
export const DEV_RECOVERY_FILE = join(defaultStateRoot(), 'dev-recovery-key.json')

/**
 * Deployment keys: the audit key and the recovery public key come from the
 * environment (EMR_VAULT_AUDIT_KEY, EMR_VAULT_RECOVERY_PUBLIC_KEY), read and
 * checked by the library's own reader, so the CLI refuses exactly what an
 * application would. For development, when they are not set, keys are made once
 * and kept in .emr-vault/ (gitignored, mode 0600); production never falls back
 * to them.
 */

/**
 * The recovery public key for development tools (seeds, demo, CLI): from
 * EMR_VAULT_RECOVERY_PUBLIC_KEY (base64) when set, else a development key pair
 * made once and kept in .emr-vault/ with mode 0600. Production deployments create
 * theirs offline and configure only the public key.
 */
export function devRecoveryPublicKey(): Buffer {
  if (!mayUseDevelopmentKey(DEPLOYMENT_KEY_ENV.recoveryPublicKey)) {
    return recoveryPublicKeyFromEnv()
  }
  if (!existsSync(DEV_RECOVERY_FILE)) {
    const pair = generateRecoveryKeyPair()
    ensureStateRoot(dirname(DEV_RECOVERY_FILE))
    writeFileSync(
      DEV_RECOVERY_FILE,
      JSON.stringify({
        publicKey: pair.publicKey.toString('base64'),
        privateKey: pair.privateKey.toString('base64'),
      }),
      { mode: 0o600, flag: 'wx' },
    )
    chmodSync(DEV_RECOVERY_FILE, 0o600)
  }
  const stored = JSON.parse(readFileSync(DEV_RECOVERY_FILE, 'utf8')) as {
    publicKey: string
  }
  return Buffer.from(stored.publicKey, 'base64')
}

/** A development secret key, made once in .emr-vault/ (mode 0600) and kept. */
function devSecretKey(file: string): Buffer {
  if (!existsSync(file)) {
    ensureStateRoot(dirname(file))
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, {
      mode: 0o600,
      flag: 'wx',
    })
    chmodSync(file, 0o600)
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
}

/** Where the development audit key lives: beside the recovery key, gitignored. */
const DEV_AUDIT_KEY_FILE = join(defaultStateRoot(), 'dev-audit-key')

/**
 * The audit key for development tools (seeds, demo): from EMR_VAULT_AUDIT_KEY
 * (base64 of 32 bytes) when set, else a development key made once and kept in
 * .emr-vault/ with mode 0600. It must stay the same for a database's whole life:
 * the audit chain written with one key does not verify, or extend, with another.
 * Production deployments keep theirs in a secret store, never in the database.
 */
export function devAuditKey(): Buffer {
  if (!mayUseDevelopmentKey(DEPLOYMENT_KEY_ENV.auditKey)) return auditKeyFromEnv()
  return devSecretKey(DEV_AUDIT_KEY_FILE)
}

const DEV_SEARCH_KEY_FILE = join(defaultStateRoot(), 'dev-search-key')

/**
 * The search key for development tools: from EMR_VAULT_SEARCH_KEY when set, else
 * a development key kept in .emr-vault/ like the audit key. Rows indexed under
 * one key are found only with it (or while it is the previous key).
 */
export function devSearchKey(): Buffer {
  if (!mayUseDevelopmentKey(DEPLOYMENT_KEY_ENV.searchKey)) return searchKeyFromEnv()
  return devSecretKey(DEV_SEARCH_KEY_FILE)
}

/** The previous search key, when EMR_VAULT_PREVIOUS_SEARCH_KEY is set (a rotation). */
export function previousSearchKey(): Buffer | undefined {
  const name = DEPLOYMENT_KEY_ENV.previousSearchKey
  return process.env[name] ? searchKeyFromEnv(process.env, name) : undefined
}
