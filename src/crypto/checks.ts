/**
 * Argument checks for non-byte arguments (integers and identifier strings), in the
 * noble style: `TypeError` for a wrong type, `RangeError` for a wrong size or range,
 * and a message that names the argument. Messages give a value's type or length, and
 * echo only out-of-range integers (costs, versions); never the content of a string or
 * Buffer, so no secret, password, id or plaintext can reach an error.
 * @module
 */

/**
 * Names the type of a value for an error message without revealing the value:
 * `'string'`, `'number'`, `'null'`, `'Uint8Array'`, `'Array'`, ...
 *
 * @param value - any value
 * @returns a short type description
 */
export function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value
  const ctor: unknown = Object.getPrototypeOf(value)?.constructor
  return typeof ctor === 'function' && ctor.name !== '' ? ctor.name : 'object'
}

/**
 * `String.prototype.isWellFormed` (ES2024; Node 20 has it): true unless the string
 * holds a lone surrogate. Typed here because tsconfig.json's `lib` is ES2023.
 *
 * @param value - a string
 * @returns whether it is well-formed UTF-16, i.e. encodable to UTF-8 without loss
 */
export function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed()
}

/**
 * Asserts that `value` is an integer in `[min, max]`.
 *
 * @param value - the argument to check
 * @param name - the argument's name, used in the message
 * @param min - smallest accepted value
 * @param max - largest accepted value
 * @throws TypeError if `value` is not an integer number
 * @throws RangeError if it is outside `[min, max]`
 */
export function ainteger(
  value: unknown,
  name: string,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`"${name}" must be an integer, got ${describeType(value)}`)
  }
  if (value < min || value > max) {
    throw new RangeError(`"${name}" must be from ${min} to ${max}, got ${value}`)
  }
}

/**
 * Asserts that `value` is a non-empty, well-formed string whose UTF-8 encoding is at
 * most `maxBytes` long, and returns that encoding.
 *
 * Well-formedness matters for binding ids into AADs: `Buffer.from(s, 'utf8')` turns
 * every lone surrogate into U+FFFD, so two different ill-formed strings would encode
 * to the same bytes and the AAD would no longer name one id unambiguously.
 *
 * @param value - the argument to check
 * @param name - the argument's name, used in the message
 * @param maxBytes - the largest UTF-8 length accepted
 * @returns the UTF-8 bytes of `value`
 * @throws TypeError if `value` is not a string or holds a lone surrogate
 * @throws RangeError if it is empty or too long
 */
export function utf8Id(value: unknown, name: string, maxBytes: number): Buffer {
  if (typeof value !== 'string') {
    throw new TypeError(`"${name}" must be a string, got ${describeType(value)}`)
  }
  if (!isWellFormed(value)) {
    throw new TypeError(`"${name}" must be well-formed Unicode (it has a lone surrogate)`)
  }
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length === 0 || bytes.length > maxBytes) {
    throw new RangeError(
      `"${name}" must be 1 to ${maxBytes} bytes in UTF-8, got ${bytes.length}`,
    )
  }
  return bytes
}
