import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/**
 * The comparison point "encrypt in the application": what prisma-field-encryption
 * does through @47ng/cloak. Each field is AES-256-GCM with a random 96-bit IV,
 * stored as text `v1.aesgcm256.<key fingerprint>.<iv>.<ciphertext‖tag>` (base64url),
 * the cloak format. Like cloak, no AAD binds the value to its row or column.
 * node:crypto's synchronous cipher is used (cloak goes through WebCrypto, which is
 * slower per call), so this is the application side at its cheapest.
 */

export interface AppKey {
  readonly key: Buffer
  /** 8 hex digits, as cloak's key fingerprint (here: SHA-256 of the key, truncated). */
  readonly fingerprint: string
}

export function newAppKey(): AppKey {
  const key = randomBytes(32)
  return {
    key,
    fingerprint: createHash('sha256').update(key).digest('hex').slice(0, 8),
  }
}

export function appEncrypt(plaintext: string, key: AppKey): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key.key, iv)
  const ciphertext = Buffer.concat([
    cipher.update(plaintext, 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ])
  return `v1.aesgcm256.${key.fingerprint}.${iv.toString('base64url')}.${ciphertext.toString('base64url')}`
}

export function appDecrypt(stored: string, key: AppKey): string {
  const [version, algorithm, fingerprint, iv, data] = stored.split('.')
  if (
    version !== 'v1' ||
    algorithm !== 'aesgcm256' ||
    fingerprint !== key.fingerprint ||
    !iv ||
    data === undefined
  ) {
    throw new Error('not a value of this key')
  }
  const bytes = Buffer.from(data, 'base64url')
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'))
  decipher.setAuthTag(bytes.subarray(bytes.length - 16))
  return Buffer.concat([
    decipher.update(bytes.subarray(0, bytes.length - 16)),
    decipher.final(),
  ]).toString('utf8')
}

/** `null` stays `null` (an absent optional field), as in the envelope columns. */
export function appEncryptNullable(value: string | null | undefined, key: AppKey) {
  return value === null || value === undefined ? null : appEncrypt(value, key)
}

export function appDecryptNullable(value: string | null, key: AppKey): string | null {
  return value === null ? null : appDecrypt(value, key)
}
