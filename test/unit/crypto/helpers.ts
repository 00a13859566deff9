// Shared test helpers: the published vectors (test/vectors/, sources in its
// README) and error assertions.
import { expect } from 'chai'
export { readVectorJson, readVectorText } from '../../support/vectors.js'

/** Hex string → Buffer. */
export const hex = (s: string): Buffer => Buffer.from(s, 'hex')

/** A Wycheproof test file (testvectors_v1 layout), with the fields each test may use. */
export type WycheproofFile<G, T> = {
  algorithm: string
  numberOfTests: number
  testGroups: (G & { tests: (T & WycheproofCase)[] })[]
}
export type WycheproofCase = {
  tcId: number
  comment: string
  flags: string[]
  result: 'valid' | 'invalid' | 'acceptable'
}

/** Parses NIST/pyca `KEY = value` blocks separated by blank lines (COUNT = … starts one). */
export function parseRsp(text: string): Record<string, string>[] {
  const records: Record<string, string>[] = []
  let current: Record<string, string> | undefined
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line)
    if (m === null) continue
    const [, key, value] = m as unknown as [string, string, string]
    if (key === 'COUNT') {
      current = {}
      records.push(current)
    }
    if (current !== undefined) current[key] = value
  }
  return records
}

/** Calls `fn` and returns what it threw (sync) or rejected with (async). */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error('expected an error, none was thrown')
}

/** Asserts `fn` throws or rejects with an instance of `type` whose message matches. */
export async function expectError(
  fn: () => unknown,
  type: new (...args: never[]) => Error,
  message?: RegExp | string,
): Promise<Error> {
  const err = await caught(fn)
  expect(err).to.be.instanceOf(type)
  const e = err as Error
  // Exact class, not a subclass: a TypeError must not pass as a RangeError's parent.
  expect(e.constructor).to.equal(type)
  if (typeof message === 'string') expect(e.message).to.include(message)
  else if (message !== undefined) expect(e.message).to.match(message)
  return e
}
