// The audit row and head MACs (src/crypto/audit-mac.ts). The fixed vector is
// built here byte by byte from the documented encoding and MACed with node's
// createHmac, independently of the code under test; the expected hex was
// computed once that way and is pinned so that any change of encoding shows.
import { createHmac } from 'node:crypto'
import { expect } from 'chai'
import {
  auditGenesisMac,
  auditHeadMac,
  auditRowMac,
  isAuditGenesisHead,
  macEquals,
  type AuditMacFields,
} from '../../../src/crypto/audit-mac.js'

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i)) // 00 01 … 1f
const PREV = Buffer.alloc(32, 0xab)
const ROW: AuditMacFields = {
  seq: 42n,
  occurredAt: new Date(Date.UTC(2026, 10, 29, 12, 0, 0, 123)), // 1795953600123 ms
  actorUserId: Buffer.alloc(16, 0x11),
  action: 'break_glass.open',
  patientId: Buffer.alloc(16, 0x22),
  targetUserId: null,
  outcome: 'success',
  reason: 'unconscious in ED',
  detail: null,
}

/** The message of ROW, written out from the encoding in the module comment. */
const ROW_MESSAGE = Buffer.from(
  [
    '656d722d7661756c742f61756469742f7631', // "emr-vault/audit/v1"
    'ab'.repeat(32), // prev_mac
    '000000000000002a', // seq 42, uint64be
    '000001a2272d267b', // occurred_at 1795953600123 ms, uint64be
    '01' + '11'.repeat(16), // actor_user_id present
    '0010' + '627265616b5f676c6173732e6f70656e', // action: len 16, "break_glass.open"
    '01' + '22'.repeat(16), // patient_id present
    '00', // target_user_id NULL
    '0007' + '73756363657373', // outcome: len 7, "success"
    '01' + '0011' + '756e636f6e7363696f757320696e204544', // reason present, len 17
    '00', // detail NULL
  ].join(''),
  'hex',
)
const ROW_MAC_HEX = createHmac('sha256', KEY).update(ROW_MESSAGE).digest('hex')
const PINNED_ROW_MAC_HEX =
  '5ba5c5e84de6ea661b78535b8b9e0e5dad1032a8cffeb623d67b56128ecad0f7'

describe('audit MAC (crypto/audit-mac.ts)', () => {
  it('matches a hand-built message MACed with createHmac', () => {
    expect(auditRowMac(KEY, PREV, ROW).toString('hex')).to.equal(ROW_MAC_HEX)
  })

  it('matches the vector pinned when the encoding was written', () => {
    expect(ROW_MAC_HEX).to.equal(PINNED_ROW_MAC_HEX)
  })

  it('head MAC: "emr-vault/audit-head/v1" ‖ uint64be(last_seq) ‖ last_mac', () => {
    const lastMac = Buffer.alloc(32, 0xcd)
    const message = Buffer.from(
      '656d722d7661756c742f61756469742d686561642f7631' + // "emr-vault/audit-head/v1"
        '000000000000002a' +
        'cd'.repeat(32),
      'hex',
    )
    expect(auditHeadMac(KEY, 42n, lastMac)).to.deep.equal(
      createHmac('sha256', KEY).update(message).digest(),
    )
    // A row MAC can never serve as a head MAC: the labels differ.
    expect(auditHeadMac(KEY, 42n, PREV)).to.not.deep.equal(auditRowMac(KEY, PREV, ROW))
  })

  it('every change of any field, of the previous MAC or of the key changes the MAC', () => {
    const variants: [string, Buffer][] = [
      ['original', auditRowMac(KEY, PREV, ROW)],
      ['key', auditRowMac(Buffer.from(KEY).fill(1, 31), PREV, ROW)],
      ['prevMac', auditRowMac(KEY, Buffer.from(PREV).fill(0xac, 31), ROW)],
    ]
    const flipped = (b: Buffer) => {
      const c = Buffer.from(b)
      c[15]! ^= 1
      return c
    }
    const changes: [string, Partial<AuditMacFields>][] = [
      ['seq + 1', { seq: 43n }],
      ['seq 2^64 - 1', { seq: (1n << 64n) - 1n }],
      ['occurredAt + 1 ms', { occurredAt: new Date(ROW.occurredAt.getTime() + 1) }],
      ['actor flipped', { actorUserId: flipped(ROW.actorUserId!) }],
      ['actor null', { actorUserId: null }],
      ['action', { action: 'break_glass.expire' }],
      ['patient flipped', { patientId: flipped(ROW.patientId!) }],
      ['patient null', { patientId: null }],
      ['target set', { targetUserId: Buffer.alloc(16, 0x11) }],
      ['target = patient', { targetUserId: Buffer.alloc(16, 0x22) }],
      ['outcome', { outcome: 'denied' }],
      ['reason trailing space', { reason: 'unconscious in ED ' }],
      ['reason null', { reason: null }],
      ['reason empty', { reason: '' }],
      ['detail set', { detail: 'v2->v3' }],
      ['detail empty', { detail: '' }],
      // Field boundaries move: the length prefixes keep these apart.
      ['action/outcome boundary', { action: 'break_glass.opens', outcome: 'uccess' }],
      ['reason moved to detail', { reason: null, detail: 'unconscious in ED' }],
    ]
    for (const [name, change] of changes)
      variants.push([name, auditRowMac(KEY, PREV, { ...ROW, ...change })])
    const seen = new Map<string, string>()
    for (const [name, mac] of variants) {
      const hex = mac.toString('hex')
      expect(seen.get(hex), `${name} collides`).to.equal(undefined)
      seen.set(hex, name)
    }
    expect(seen.size).to.equal(changes.length + 3)
  })

  it('refuses a wrong key length by name, and malformed fields', () => {
    expect(() => auditRowMac(Buffer.alloc(16), PREV, ROW)).to.throw(
      RangeError,
      '"auditKey" must be 32 bytes, got 16',
    )
    expect(() => auditHeadMac(Buffer.alloc(33), 1n, PREV)).to.throw(
      RangeError,
      '"auditKey" must be 32 bytes, got 33',
    )
    expect(() => auditRowMac(KEY, Buffer.alloc(31), ROW)).to.throw(RangeError, 'prevMac')
    expect(() =>
      auditRowMac(KEY, PREV, { ...ROW, patientId: Buffer.alloc(15) }),
    ).to.throw(RangeError, 'patientId')
    expect(() => auditRowMac(KEY, PREV, { ...ROW, seq: -1n })).to.throw(RangeError, 'seq')
    expect(() => auditRowMac(KEY, PREV, { ...ROW, seq: 1n << 64n })).to.throw(RangeError)
    expect(() =>
      auditRowMac(KEY, PREV, { ...ROW, seq: 1 as unknown as bigint }),
    ).to.throw(TypeError)
    expect(() =>
      auditRowMac(KEY, PREV, { ...ROW, occurredAt: new Date('1969-12-31T23:59:59Z') }),
    ).to.throw(RangeError, 'occurredAt')
    expect(() =>
      auditRowMac(KEY, PREV, { ...ROW, occurredAt: new Date(Number.NaN) }),
    ).to.throw(RangeError, 'occurredAt')
    expect(() => auditRowMac(KEY, PREV, { ...ROW, reason: 'a\ud800b' })).to.throw(
      TypeError,
      'lone surrogate',
    )
  })

  it('genesis: 32 zero bytes, accepted as a head only with seq 0', () => {
    const zero = Buffer.alloc(32)
    expect(auditGenesisMac()).to.deep.equal(zero)
    auditGenesisMac().fill(1) // a fresh copy each call: the constant cannot be altered
    expect(auditGenesisMac()).to.deep.equal(zero)
    expect(isAuditGenesisHead(0n, zero, zero)).to.equal(true)
    expect(isAuditGenesisHead(1n, zero, zero)).to.equal(false)
    expect(isAuditGenesisHead(0n, zero, Buffer.alloc(32, 1))).to.equal(false)
    expect(isAuditGenesisHead(0n, Buffer.alloc(32, 1), zero)).to.equal(false)
  })

  it('macEquals: equal, different, and different lengths', () => {
    expect(macEquals(Buffer.alloc(32, 7), Buffer.alloc(32, 7))).to.equal(true)
    expect(macEquals(Buffer.alloc(32, 7), Buffer.alloc(32, 8))).to.equal(false)
    expect(macEquals(Buffer.alloc(32, 7), Buffer.alloc(31, 7))).to.equal(false)
  })
})
