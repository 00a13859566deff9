/**
 * A grant: the patient data key sealed to one recipient's X25519 public key with HPKE
 * base mode (docs/concepts.md; RFC 9180, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-256-GCM). Any holder of the PDK can grant without the grantee's password.
 *
 * Sealed format: `0x01 ‖ enc (32) ‖ ciphertext (32) ‖ tag (16)`, 81 bytes.
 * HPKE `info`: `"emr-vault/patient-key/v1"`.
 * HPKE `aad`: `"emr-vault/patient-key-grant" ‖ 0x01 ‖ len16 ‖ patientId ‖ keyVersion
 * (uint32 BE) ‖ len16 ‖ recipientId`, every id UTF-8 and length-prefixed, so a grant
 * moved to another patient, key version or grantee row does not open.
 * @module
 */
import { abytes, wipe } from './bytes.js'
import { ainteger, describeType, utf8Id } from './checks.js'
import { u16Prefixed, u32be } from './encoding.js'
import {
  HPKE_ENC_BYTES,
  HPKE_TAG_BYTES,
  hpkeOpenBase,
  hpkeSealBase,
} from './hpke-base.js'
import { OpenFailedError } from './open-failed-error.js'
import { PATIENT_KEY_BYTES } from './patient-key.js'
import { X25519_KEY_BYTES } from './x25519-key-object.js'

/** What a grant is bound to; every field goes into the HPKE AAD. */
export type SealContext = { patientId: string; keyVersion: number; recipientId: string }

/** Format version of a sealed patient key. */
export const SEALED_PATIENT_KEY_VERSION = 0x01
/** Length of a sealed patient key: version, enc, ciphertext, tag. */
export const SEALED_PATIENT_KEY_BYTES =
  1 + HPKE_ENC_BYTES + PATIENT_KEY_BYTES + HPKE_TAG_BYTES
/** Longest id accepted, in UTF-8 bytes (the uint16 length prefix). */
export const MAX_SEAL_ID_BYTES = 0xffff
/** Largest key version (uint32). */
export const MAX_KEY_VERSION = 0xffff_ffff

/** HPKE `info`: fixes what the key schedule is for (RFC 9180 §5.1 "application-supplied information"). */
const INFO = Buffer.from('emr-vault/patient-key/v1', 'ascii')
/** Domain-separation label at the head of the AAD. */
const AAD_LABEL = Buffer.from('emr-vault/patient-key-grant', 'ascii')

/**
 * Encodes a seal context as the grant's AAD. Exported for tests and for callers that
 * want to log a digest of it; it holds ids, no secrets.
 *
 * @param ctx - patient id, key version and recipient id
 * @returns the AAD bytes
 * @throws TypeError / RangeError for a malformed context
 */
export function sealContextAad(ctx: SealContext): Buffer {
  if (typeof ctx !== 'object' || ctx === null) {
    throw new TypeError(`"ctx" must be an object, got ${describeType(ctx)}`)
  }
  const patientId = utf8Id(ctx.patientId, 'ctx.patientId', MAX_SEAL_ID_BYTES)
  ainteger(ctx.keyVersion, 'ctx.keyVersion', 0, MAX_KEY_VERSION)
  const recipientId = utf8Id(ctx.recipientId, 'ctx.recipientId', MAX_SEAL_ID_BYTES)
  return Buffer.concat([
    AAD_LABEL,
    Buffer.of(SEALED_PATIENT_KEY_VERSION),
    u16Prefixed(patientId),
    u32be(ctx.keyVersion),
    u16Prefixed(recipientId),
  ])
}

/**
 * Seals a patient key to a recipient's public key.
 *
 * @param patientKey - the 32-byte PDK
 * @param recipientPublicKey - the grantee's (or the recovery key's) raw X25519 public key
 * @param ctx - patient id, key version and grantee id the grant is for
 * @returns the 81-byte sealed key
 * @throws TypeError / RangeError for bad arguments
 */
export async function sealPatientKey(
  patientKey: Buffer,
  recipientPublicKey: Buffer,
  ctx: SealContext,
): Promise<Buffer> {
  abytes(patientKey, 'patientKey', PATIENT_KEY_BYTES)
  abytes(recipientPublicKey, 'recipientPublicKey', X25519_KEY_BYTES)
  const aad = sealContextAad(ctx)
  const { enc, ciphertext } = await hpkeSealBase(
    recipientPublicKey,
    INFO,
    aad,
    patientKey,
  )
  return Buffer.concat([Buffer.of(SEALED_PATIENT_KEY_VERSION), enc, ciphertext])
}

/**
 * Opens a sealed patient key.
 *
 * @param sealed - the stored sealed key
 * @param recipientPrivateKey - the grantee's raw 32-byte X25519 private key
 * @param ctx - the context the grant must be for
 * @returns the 32-byte PDK (secret: wipe when done)
 * @throws OpenFailedError on any failure: wrong key, another context, an altered or
 *   truncated value, a low-order `enc`
 * @throws TypeError / RangeError for arguments of the wrong type or key length
 */
export async function openPatientKey(
  sealed: Buffer,
  recipientPrivateKey: Buffer,
  ctx: SealContext,
): Promise<Buffer> {
  abytes(sealed, 'sealed')
  abytes(recipientPrivateKey, 'recipientPrivateKey', X25519_KEY_BYTES)
  const aad = sealContextAad(ctx)
  if (
    sealed.length !== SEALED_PATIENT_KEY_BYTES ||
    sealed[0] !== SEALED_PATIENT_KEY_VERSION
  ) {
    throw new OpenFailedError()
  }
  const enc = sealed.subarray(1, 1 + HPKE_ENC_BYTES)
  const ciphertext = sealed.subarray(1 + HPKE_ENC_BYTES)
  let key: Buffer
  try {
    key = await hpkeOpenBase(recipientPrivateKey, enc, INFO, aad, ciphertext)
  } catch {
    // Decap (e.g. an all-zero X25519 result from a low-order enc, RFC 9180 §7.1.4),
    // deserialisation and AEAD failures all look the same to the caller.
    throw new OpenFailedError()
  }
  if (key.length !== PATIENT_KEY_BYTES) {
    wipe(key)
    throw new OpenFailedError()
  }
  return key
}
