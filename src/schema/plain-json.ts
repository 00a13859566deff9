import { describeType, isWellFormed } from '../crypto/checks.js'

/**
 * What a JSON column accepts: exactly the values that JSON.stringify then
 * JSON.parse give back deep-equal. Everything else is refused rather than
 * silently changed: `undefined` and functions vanish, `-0` reads back `0`,
 * NaN and Infinity become `null`, a Date becomes a string, a Map `{}`, a
 * class instance a plain object, an array hole `null`, a getter is replaced
 * by its value, and a symbol key or a non-enumerable property is dropped.
 *
 * Object prototypes: `Object.prototype` or `null` (an `Object.create(null)`
 * dictionary; it reads back with `Object.prototype`).
 */

/**
 * Deeper values are refused: the check is recursive, and so is V8's
 * JSON.stringify, which throws a RangeError past about 4,100 levels of nested
 * arrays on Node 20.20 with the default stack (measured); 1,000 leaves room
 * for the caller's own frames.
 */
export const MAX_JSON_DEPTH = 1000

/**
 * Why `value` is not plain JSON (a phrase naming the kind of thing, never
 * the content or its path: keys can be data too), or undefined when it is.
 */
export function plainJsonProblem(value: unknown): string | undefined {
  return problemIn(value, new Set(), 0)
}

function problemIn(
  value: unknown,
  ancestors: Set<object>,
  depth: number,
): string | undefined {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? undefined : 'holds a string with a lone surrogate'
    case 'boolean':
      return undefined
    case 'number':
      if (!Number.isFinite(value)) return 'holds a number that is not finite'
      return Object.is(value, -0) ? 'holds -0 (JSON keeps no sign on zero)' : undefined
    case 'object':
      break
    case 'undefined':
      return 'holds undefined'
    default:
      return `holds a ${typeof value}`
  }
  if (value === null) return undefined
  if (depth >= MAX_JSON_DEPTH) return `nests deeper than ${MAX_JSON_DEPTH} levels`
  if (ancestors.has(value)) return 'holds a cycle'
  const proto: unknown = Object.getPrototypeOf(value)
  const isArray = Array.isArray(value)
  if (
    isArray ? proto !== Array.prototype : proto !== Object.prototype && proto !== null
  ) {
    return `holds a ${describeType(value)}, not a plain object or array`
  }
  const keys = Reflect.ownKeys(value)
  if (isArray) {
    const length = (value as unknown[]).length
    for (let i = 0; i < length; i++) {
      if (!Object.hasOwn(value, i)) return 'holds an array with holes'
    }
    // `length` plus one own index per element, nothing else.
    if (keys.length !== length + 1) return 'holds an array with extra properties'
  }
  ancestors.add(value)
  for (const key of keys) {
    if (typeof key === 'symbol') return 'holds a symbol key'
    if (isArray && key === 'length') continue
    if (!isWellFormed(key)) return 'holds a key with a lone surrogate'
    const property = Object.getOwnPropertyDescriptor(value, key)!
    if (!('value' in property) || !property.enumerable) {
      return 'holds a getter or a non-enumerable property'
    }
    const problem = problemIn(property.value, ancestors, depth + 1)
    if (problem !== undefined) return problem
  }
  ancestors.delete(value)
  return undefined
}
