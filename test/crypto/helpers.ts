// Shared test helpers: where the published vectors live, and error assertions.
// The vectors are not copied into this repo: they are read from ../shared/vectors
// relative to the repo root (CI lays shared/ beside the clone at the same place).
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'

/** Absolute path of shared/vectors, resolved from this file (test/crypto/ → repo root → ..). */
export const VECTORS_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
  'vectors',
)

/** Reads a vector file as text (gunzipped if it ends in .gz). */
export function readVectorText(relativePath: string): string {
  const raw = readFileSync(resolve(VECTORS_DIR, relativePath))
  return (relativePath.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')
}

/** Reads a JSON vector file. */
export function readVectorJson<T>(relativePath: string): T {
  return JSON.parse(readVectorText(relativePath)) as T
}

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
