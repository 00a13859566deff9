/**
 * Password normalisation, shared by the login verifier (bcrypt) and the KEK (scrypt)
 * so both see exactly the same bytes (NIST SP 800-63B: "Normalise the same way for
 * the verifier and the KEK").
 * @module
 */
import { describeType, isWellFormed } from './checks.js'

/**
 * The longest password accepted, in UTF-8 bytes after normalisation. bcrypt reads at
 * most 72 bytes of key (OpenBSD `bcrypt.c`; node.bcrypt.js silently ignores the rest,
 * kelektiv/node.bcrypt.js#996), so we reject longer passwords rather than truncate
 * (NIST SP 800-63B §5.1.1.2: "Truncation of the secret SHALL NOT be performed").
 * The same limit applies to the KEK so a password that can log in can also unwrap.
 */
export const MAX_PASSWORD_BYTES = 72

/**
 * Checks a password and returns its normalised UTF-8 bytes.
 *
 * - NFKC normalisation (NIST SP 800-63B §5.1.1.2 asks for NFKC or NFKD), so that "ﬁ"
 *   and "fi", or a composed and a decomposed "é", are the same password whichever
 *   keyboard or OS typed them.
 * - Lone surrogates are rejected: UTF-8 encoding would turn each into U+FFFD, so
 *   distinct strings would become one password.
 * - U+0000 is rejected: node.bcrypt.js appends a NUL terminator to the key and then
 *   caps it at 72 bytes, so a 71-byte password and the same password followed by NUL
 *   hash identically (shown in test/unit/crypto/password.test.ts); OWASP's Password
 *   Storage Cheat Sheet also warns about NUL bytes reaching bcrypt.
 * - At most {@link MAX_PASSWORD_BYTES} bytes after normalisation (NFKC can lengthen a
 *   string: "½" is 2 bytes and becomes "1⁄2", 5 bytes; "ﷺ" grows from 3 to 33 bytes).
 *
 * The result is secret: wipe it when done. Error messages give lengths, never content.
 *
 * @param password - the password as typed
 * @returns its NFKC-normalised UTF-8 encoding, 1 to 72 bytes
 * @throws TypeError if it is not a string, holds a lone surrogate or U+0000
 * @throws RangeError if it is empty or longer than 72 bytes after normalisation
 * @example
 * ```ts
 * normalizePassword('ﬁsh').equals(normalizePassword('fish')) // true
 * ```
 */
export function normalizePassword(password: unknown): Buffer {
  if (typeof password !== 'string') {
    throw new TypeError(`"password" must be a string, got ${describeType(password)}`)
  }
  if (!isWellFormed(password)) {
    throw new TypeError(
      '"password" must be well-formed Unicode (it has a lone surrogate)',
    )
  }
  const normalized = password.normalize('NFKC')
  if (normalized.includes('\u0000')) {
    throw new TypeError('"password" must not contain U+0000 (NUL)')
  }
  const bytes = Buffer.from(normalized, 'utf8')
  if (bytes.length === 0) {
    throw new RangeError('"password" must not be empty')
  }
  if (bytes.length > MAX_PASSWORD_BYTES) {
    const length = bytes.length
    bytes.fill(0)
    throw new RangeError(
      `"password" must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8, got ${length}`,
    )
  }
  return bytes
}
