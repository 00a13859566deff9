/**
 * The user's X25519 key pair: patient keys are sealed to the public
 * key with HPKE; the private key is stored only wrapped under the user's KEK.
 * @module
 */
import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import { abytes, wipe } from './bytes.js'
import {
  rawX25519PrivateKey,
  rawX25519PublicKey,
  X25519_KEY_BYTES,
  x25519PrivateKeyObject,
  x25519PublicKeyObject,
} from './x25519-key-object.js'

/** A raw X25519 key pair, 32 bytes each (RFC 7748 §5 encodings). */
export type UserKeyPair = { publicKey: Buffer; privateKey: Buffer }

/**
 * Generates a fresh X25519 key pair from the CSPRNG (via OpenSSL).
 *
 * @returns `{ publicKey, privateKey }` as raw 32-byte Buffers; `privateKey` is secret
 */
export function generateUserKeyPair(): UserKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519')
  return {
    publicKey: rawX25519PublicKey(publicKey),
    privateKey: rawX25519PrivateKey(privateKey),
  }
}

/**
 * Computes the public key of a raw X25519 private key, X25519(k, 9) (RFC 7748 §6.1).
 * Used to check that an unwrapped private key matches the stored public key, and to
 * give HPKE the recipient's public key without exporting the private key as JWK.
 *
 * @param privateKey - 32 raw bytes
 * @returns the raw 32-byte public key
 * @throws TypeError / RangeError if `privateKey` is not a 32-byte Buffer
 */
export function x25519PublicKeyOf(privateKey: Buffer): Buffer {
  const keyObject = x25519PrivateKeyObject(privateKey)
  return rawX25519PublicKey(createPublicKey(keyObject))
}

/**
 * Whether patient keys can be sealed to `publicKey`: X25519 with it gives a
 * shared secret other than zero. A low-order point (all zeros, the encoding of 1,
 * and the handful of others RFC 7748 §6.1 warns about) gives zero with every
 * private key, and HPKE then refuses to seal (RFC 9180 §7.1.4), so a deployment
 * configured with one would fail at its first patient rather than at start-up.
 * Checked with one X25519 against a throwaway key; OpenSSL refuses a zero result.
 *
 * @param publicKey - 32 raw bytes
 * @returns false for a low-order point, true otherwise
 * @throws TypeError / RangeError if `publicKey` is not a 32-byte Buffer
 */
export function isUsableX25519PublicKey(publicKey: Buffer): boolean {
  abytes(publicKey, 'publicKey', X25519_KEY_BYTES)
  const peer = x25519PublicKeyObject(publicKey)
  const { privateKey } = generateKeyPairSync('x25519')
  let shared: Buffer
  try {
    shared = diffieHellman({ privateKey, publicKey: peer })
  } catch {
    return false
  }
  const zero = shared.every((b) => b === 0)
  wipe(shared)
  return !zero
}
