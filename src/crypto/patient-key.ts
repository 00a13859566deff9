/**
 * The patient data key (PDK), docs/concepts.md: 32 random bytes per patient and version,
 * never stored in clear (only sealed to grantees and the recovery key).
 * @module
 */
import { randomBytes } from './bytes.js'

/** Length of a patient data key. */
export const PATIENT_KEY_BYTES = 32

/**
 * Generates a new patient data key from the CSPRNG.
 *
 * @returns 32 random bytes (secret: wipe when done)
 */
export function generatePatientKey(): Buffer {
  return randomBytes(PATIENT_KEY_BYTES)
}
