// HMAC-SHA256 (src/crypto/hmac.ts): node's createHmac as the envelope uses it, and the
// precomputed pads with which SQL computes the same tag from two SHA-256 calls:
// HMAC(K, m) = SHA256(outer ‖ SHA256(inner ‖ m)) (RFC 2104 §2; docs/envelope.md).
//
// Vectors: test/vectors/wycheproof/hmac_sha256_test.json (C2SP/wycheproof
// testvectors_v1, 174 cases: keys of 16, 32 and 65 bytes, full and 128-bit tags).
import { createHash, createHmac } from 'node:crypto'
import { expect } from 'chai'
import { hmacPadsForKey, hmacSha256 } from '../../../src/crypto/hmac.js'
import { hex, readVectorJson, type WycheproofFile } from './helpers.js'

/** The SQL formula, in Node: UNHEX(SHA2(CONCAT(outer, UNHEX(SHA2(CONCAT(inner, msg), 256))), 256)). */
function hmacFromPads(key: Buffer, msg: Buffer): Buffer {
  const { inner, outer } = hmacPadsForKey(key)
  const innerHash = createHash('sha256')
    .update(Buffer.concat([inner, msg]))
    .digest()
  return createHash('sha256')
    .update(Buffer.concat([outer, innerHash]))
    .digest()
}

describe('crypto/hmac: Wycheproof hmac_sha256_test.json', () => {
  type Group = { keySize: number; tagSize: number }
  type Case = { key: string; msg: string; tag: string }
  const file = readVectorJson<WycheproofFile<Group, Case>>(
    'wycheproof/hmac_sha256_test.json',
  )
  const cases = file.testGroups.flatMap((g) =>
    g.tests.map((t) => ({ ...t, tagBytes: g.tagSize / 8 })),
  )

  it('has 174 cases (66 valid, 108 invalid)', () => {
    expect(cases).to.have.length(174)
    expect(cases.filter((t) => t.result === 'valid')).to.have.length(66)
  })

  it('hmacSha256: valid tags match (truncated to the group tag size), invalid ones do not', () => {
    for (const t of cases) {
      const tag = hmacSha256(hex(t.key), hex(t.msg)).subarray(0, t.tagBytes)
      expect(tag.equals(hex(t.tag)), `tcId ${t.tcId}`).to.equal(t.result === 'valid')
    }
  })

  it('the pad formula gives the same answers on every case (incl. 65-byte keys, hashed first)', () => {
    for (const t of cases) {
      const tag = hmacFromPads(hex(t.key), hex(t.msg)).subarray(0, t.tagBytes)
      expect(tag.equals(hex(t.tag)), `tcId ${t.tcId}`).to.equal(t.result === 'valid')
    }
  })

  it('hmacSha256 MACs the concatenation of its parts', () => {
    const key = Buffer.alloc(32, 9)
    const whole = hmacSha256(key, Buffer.from('abcdef'))
    expect(
      hmacSha256(key, Buffer.from('ab'), Buffer.from(''), Buffer.from('cdef')).equals(
        whole,
      ),
    ).to.equal(true)
  })
})

describe('crypto/hmac: pads + two SHA-256 calls = createHmac', () => {
  const msgs = [
    Buffer.alloc(0),
    Buffer.from('x'),
    Buffer.alloc(55, 1),
    Buffer.alloc(64, 2),
    Buffer.alloc(1000, 3),
  ]

  it('for every key length 0..64 (32 is ours) and longer keys 65, 100, 128, 200', () => {
    const lengths = [...Array.from({ length: 65 }, (_, i) => i), 65, 100, 128, 200]
    for (const len of lengths) {
      const key = Buffer.alloc(len)
      for (let i = 0; i < len; i++) key[i] = (i * 37 + len) & 0xff
      for (const msg of msgs) {
        const expected = createHmac('sha256', key).update(msg).digest()
        expect(
          hmacFromPads(key, msg).equals(expected),
          `key ${len} msg ${msg.length}`,
        ).to.equal(true)
      }
    }
  })

  it('keys that differ only in trailing zero bytes give equal pads (and equal HMACs: RFC 2104 zero-padding)', () => {
    // A property of HMAC, not a bug of ours; our MAC keys are always exactly 32 bytes.
    const a = hmacPadsForKey(Buffer.from('0102', 'hex'))
    const b = hmacPadsForKey(Buffer.from('010200', 'hex'))
    expect(a.inner.equals(b.inner)).to.equal(true)
  })
})
