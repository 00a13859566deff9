import { randomBytes } from 'node:crypto'

/**
 * A 32-byte key that is easy to find anywhere it leaks: printable ASCII, so it is
 * recognisable both raw (server messages quote it) and as hex (knex prints X'…').
 */
export function canaryKey(): Buffer {
  const key = Buffer.from(
    `CANARY-${randomBytes(16).toString('hex')}`.slice(0, 32),
    'latin1',
  )
  if (key.length !== 32) throw new Error('canary must be 32 bytes')
  return key
}

/** Every spelling of `key` a leak could take: raw text, hex in either case. */
export function spellings(key: Buffer): string[] {
  const hex = key.toString('hex')
  return [key.toString('latin1'), hex, hex.toUpperCase()]
}

/** True when any spelling of `key` occurs in `text`. */
export function containsKey(text: string, key: Buffer): boolean {
  return spellings(key).some((s) => text.includes(s))
}

/**
 * Everything an error exposes: message, stack, every enumerable and own field,
 * and the same for each `cause` down the chain. Buffers are spelled as hex.
 */
export function errorSurface(err: unknown, depth = 0): string {
  if (depth > 8 || err === null || err === undefined) return ''
  if (Buffer.isBuffer(err)) return `${err.toString('hex')} ${err.toString('latin1')}`
  if (typeof err !== 'object') return String(err)
  const e = err as Record<string, unknown> & {
    message?: unknown
    stack?: unknown
    cause?: unknown
  }
  const parts = [String(e.message ?? ''), String(e.stack ?? ''), String(err)]
  for (const name of Object.getOwnPropertyNames(err)) {
    if (name === 'cause') continue
    const value = e[name]
    parts.push(
      name,
      typeof value === 'object' ? errorSurface(value, depth + 1) : String(value),
    )
  }
  parts.push(errorSurface(e.cause, depth + 1))
  return parts.join('\n')
}
