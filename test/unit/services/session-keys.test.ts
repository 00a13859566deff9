import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { SessionKeyCache } from '../../../src/services/session-keys.js'
import { sqlFieldKeys } from '../../../src/sql/envelope-sql.js'

describe('session key cache', () => {
  const keys = (version: number) =>
    sqlFieldKeys({ enc: randomBytes(32), mac: randomBytes(32) }, version)

  it('expires entries after the TTL and keys them by patient and version', () => {
    let now = 0
    const cache = new SessionKeyCache(1000, () => now)
    const k = keys(1)
    cache.set('p', k)
    expect(cache.get('p', 1)).to.equal(k)
    expect(cache.get('p', 2)).to.equal(undefined)
    now = 1000
    expect(cache.get('p', 1)).to.equal(undefined)
  })

  it('holds at most MAX_ENTRIES, dropping the oldest', () => {
    const cache = new SessionKeyCache(60_000)
    for (let i = 0; i <= SessionKeyCache.MAX_ENTRIES; i++) cache.set(`p${i}`, keys(1))
    expect(cache.size).to.equal(SessionKeyCache.MAX_ENTRIES)
    expect(cache.get('p0', 1)).to.equal(undefined)
    expect(cache.get(`p${SessionKeyCache.MAX_ENTRIES}`, 1)).not.to.equal(undefined)
  })

  it('clear() zero-fills every cached key', () => {
    const cache = new SessionKeyCache(60_000)
    const k = keys(3)
    cache.set('p', k)
    cache.clear()
    expect(cache.size).to.equal(0)
    for (const b of [k.enc, k.inner, k.outer])
      expect(b.every((x) => x === 0)).to.equal(true)
  })
})
