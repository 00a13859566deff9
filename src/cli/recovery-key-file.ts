import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { abytes } from '../crypto/bytes.js'
import { x25519PublicKeyOf } from '../crypto/keypair.js'
import { ConfigurationError } from '../errors/index.js'

/**
 * The recovery key file: JSON `{ "publicKey": base64, "privateKey": base64 }`,
 * mode 0600, kept offline. The same format as the development key in .emr-vault/.
 */
export interface RecoveryKeyFile {
  readonly publicKey: Buffer
  readonly privateKey: Buffer
}

export function writeRecoveryKeyFile(path: string, pair: RecoveryKeyFile): void {
  // 'wx': never overwrite an existing key (it may be the only copy).
  writeFileSync(
    path,
    `${JSON.stringify({
      publicKey: pair.publicKey.toString('base64'),
      privateKey: pair.privateKey.toString('base64'),
    })}\n`,
    { mode: 0o600, flag: 'wx' },
  )
}

/**
 * Reads and checks a recovery key file: not readable by group or others, well
 * formed, and the private key matches the public key in it.
 */
export function readRecoveryKeyFile(path: string): RecoveryKeyFile {
  let mode: number
  try {
    mode = statSync(path).mode
  } catch {
    throw new ConfigurationError(`recovery key file ${path} cannot be read`)
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigurationError(
      `recovery key file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
    )
  }
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    const publicKey = Buffer.from(String(parsed['publicKey']), 'base64')
    const privateKey = Buffer.from(String(parsed['privateKey']), 'base64')
    abytes(publicKey, 'publicKey', 32)
    abytes(privateKey, 'privateKey', 32)
    if (!x25519PublicKeyOf(privateKey).equals(publicKey)) throw new Error('mismatch')
    return { publicKey, privateKey }
  } catch {
    throw new ConfigurationError(
      `${path} is not an emr-vault recovery key file (expected JSON with a matching publicKey and privateKey)`,
    )
  }
}
