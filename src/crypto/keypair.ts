/**
 * The user's X25519 key pair (DESIGN.md §2): patient keys are sealed to the public
 * key with HPKE; the private key is stored only wrapped under the user's KEK.
 * @module
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import {
  rawX25519PrivateKey,
  rawX25519PublicKey,
  x25519PrivateKeyObject,
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
