/**
 * Conversions between raw 32-byte X25519 keys (RFC 7748 §5, what we store) and
 * node:crypto `KeyObject`s, by fixed DER framing.
 *
 * Node 20 cannot import or export raw X25519 keys directly. JWK would work, but its
 * `d` is a base64url JS *string*, which can never be wiped; the DER route keeps the
 * private key in Buffers we can zero. The framings are fixed for X25519
 * (RFC 8410 §7 and §4, id-X25519 = 1.3.101.110), so we prepend or check a constant
 * prefix instead of parsing ASN.1.
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { abytes, wipe } from './bytes.js'

/** Length of a raw X25519 private or public key. */
export const X25519_KEY_BYTES = 32

/** PKCS#8 OneAsymmetricKey for X25519 up to the raw key: SEQ, version 0, algId, OCTET STRING(OCTET STRING(32)) (RFC 8410 §7). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
/** SubjectPublicKeyInfo for X25519 up to the raw key: SEQ, algId, BIT STRING(0 unused bits) (RFC 8410 §4). */
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

/**
 * Wraps a raw X25519 private key in a `KeyObject`.
 *
 * @param privateKey - 32 raw bytes (any value: X25519 clamps on use, RFC 7748 §5)
 * @param name - the argument's name for error messages
 * @returns a private `KeyObject` (OpenSSL holds its own copy of the key)
 */
export function x25519PrivateKeyObject(
  privateKey: Buffer,
  name = 'privateKey',
): KeyObject {
  abytes(privateKey, name, X25519_KEY_BYTES)
  const der = Buffer.concat([PKCS8_PREFIX, privateKey])
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } finally {
    wipe(der)
  }
}

/**
 * Wraps a raw X25519 public key (u-coordinate) in a `KeyObject`.
 *
 * @param publicKey - 32 raw bytes
 * @param name - the argument's name for error messages
 * @returns a public `KeyObject`
 */
export function x25519PublicKeyObject(publicKey: Buffer, name = 'publicKey'): KeyObject {
  abytes(publicKey, name, X25519_KEY_BYTES)
  return createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  })
}

/**
 * Exports the raw 32 bytes of an X25519 private `KeyObject`.
 *
 * @param key - an X25519 private key
 * @returns a new 32-byte Buffer (secret: wipe when done)
 */
export function rawX25519PrivateKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'pkcs8' })
  try {
    return Buffer.from(stripPrefix(der, PKCS8_PREFIX, 'pkcs8'))
  } finally {
    wipe(der)
  }
}

/**
 * Exports the raw 32 bytes of an X25519 public `KeyObject`.
 *
 * @param key - an X25519 public key
 * @returns a new 32-byte Buffer
 */
export function rawX25519PublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' })
  return Buffer.from(stripPrefix(der, SPKI_PREFIX, 'spki'))
}

function stripPrefix(der: Buffer, prefix: Buffer, what: string): Buffer {
  if (
    der.length !== prefix.length + X25519_KEY_BYTES ||
    !der.subarray(0, prefix.length).equals(prefix)
  ) {
    // Not reachable for X25519 keys from node:crypto; guards against another key type.
    throw new TypeError(`expected an X25519 key in ${what} DER form`)
  }
  return der.subarray(prefix.length)
}
