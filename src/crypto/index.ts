/**
 * The crypto layer's public surface (pure TypeScript on node:crypto and
 * `@hpke/core`; imports nothing else of the project). Lower-level building blocks
 * (`aes-gcm.ts`, `aes-cbc.ts`, `hkdf.ts`, `hmac.ts`, `hpke-base.ts`,
 * `x25519-key-object.ts`) are imported by path where needed, mostly by tests.
 * @module
 */
export { abytes, randomBytes, wipe } from './bytes.js'
export { OpenFailedError } from './open-failed-error.js'
export {
  KDF_POLICY,
  TEST_KDF_POLICY,
  assertScryptParams,
  isBelowPolicy,
  type KdfPolicy,
  type ScryptParams,
} from './kdf-policy.js'
export { MAX_PASSWORD_BYTES, normalizePassword } from './password.js'
export {
  bcryptCostOf,
  checkPasswordVerifier,
  hashPasswordVerifier,
} from './password-verifier.js'
export { KDF_SALT_BYTES, KEK_BYTES, deriveKek, newKdfSalt } from './kek.js'
export { generateUserKeyPair, x25519PublicKeyOf, type UserKeyPair } from './keypair.js'
export {
  WRAPPED_PRIVATE_KEY_BYTES,
  unwrapPrivateKey,
  wrapPrivateKey,
} from './private-key-wrap.js'
export { PATIENT_KEY_BYTES, generatePatientKey } from './patient-key.js'
export {
  SEALED_PATIENT_KEY_BYTES,
  openPatientKey,
  sealContextAad,
  sealPatientKey,
  type SealContext,
} from './patient-key-seal.js'
export {
  FIELD_KEY_BYTES,
  deriveFieldKeys,
  hmacPads,
  type FieldKeys,
} from './field-keys.js'
export type { HmacPads } from './hmac.js'
export {
  ENVELOPE_FIXED_OVERHEAD_BYTES,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_IV_BYTES,
  ENVELOPE_MAX_OVERHEAD_BYTES,
  ENVELOPE_MIN_BYTES,
  ENVELOPE_TAG_BYTES,
  ENVELOPE_VERSION,
  ROW_ID_BYTES,
  envelopeAad,
  envelopeHeader,
  envelopeKeyVersion,
  envelopeLength,
  openEnvelope,
  sealEnvelope,
} from './envelope.js'
