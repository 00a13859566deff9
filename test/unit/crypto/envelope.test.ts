// The stored field envelope (src/crypto/envelope.ts), docs/envelope.md:
// 0x01 ‖ keyVersion (u32 BE) ‖ iv (16) ‖ AES-256-CBC(enc, iv, pt) ‖ HMAC-SHA256(mac, aad ‖ all before the tag).
// Its cipher layer is checked against Wycheproof/NIST in aes-cbc.test.ts, its MAC in
// hmac.test.ts. Round trips use test/vectors/blns/blns.json
// (minimaxir/big-list-of-naughty-strings).
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto'
import { expect } from 'chai'
import {
  ENVELOPE_FIXED_OVERHEAD_BYTES,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_MAX_OVERHEAD_BYTES,
  ENVELOPE_MIN_BYTES,
  ENVELOPE_TAG_BYTES,
  ENVELOPE_VERSION,
  envelopeAad,
  envelopeHeader,
  envelopeKeyVersion,
  envelopeLength,
  openEnvelope,
  sealEnvelope,
} from '../../../src/crypto/envelope.js'
import { deriveFieldKeys, hmacPads } from '../../../src/crypto/field-keys.js'
import { OpenFailedError } from '../../../src/crypto/open-failed-error.js'
import { generatePatientKey } from '../../../src/crypto/patient-key.js'
import { caught, expectError, hex, readVectorJson } from './helpers.js'

describe('crypto/envelope', () => {
  const keys = deriveFieldKeys(hex('a0'.repeat(32)))
  const rowId = hex('0193a2b4c5d67e8f9a0b1c2d3e4f5061')
  const aad = envelopeAad('patient_values', 'value', rowId)
  const iv = hex('000102030405060708090a0b0c0d0e0f')
  const plaintext = Buffer.from('Diagnosis: hypertension, stage 1', 'utf8')

  it('constants: version 0x01, header 21, tag 32, overhead 53 + 1..16 padding', () => {
    expect(ENVELOPE_VERSION).to.equal(0x01)
    expect(ENVELOPE_HEADER_BYTES).to.equal(21)
    expect(ENVELOPE_TAG_BYTES).to.equal(32)
    expect(ENVELOPE_FIXED_OVERHEAD_BYTES).to.equal(53)
    expect(ENVELOPE_MAX_OVERHEAD_BYTES).to.equal(69)
    expect(ENVELOPE_MIN_BYTES).to.equal(69)
    for (const [n, len] of [
      [0, 69],
      [15, 69],
      [16, 85],
      [31, 85],
      [32, 101],
    ] as const) {
      expect(envelopeLength(n)).to.equal(len)
      expect(sealEnvelope(Buffer.alloc(n), keys, 1, aad)).to.have.length(len)
    }
  })

  it('is byte-for-byte header ‖ AES-256-CBC ‖ HMAC(mac, aad ‖ header ‖ ct), independently recomputed', () => {
    const env = sealEnvelope(plaintext, keys, 0x01020304, aad, iv)
    const header = Buffer.concat([hex('01'), hex('01020304'), iv])
    const c = createCipheriv('aes-256-cbc', keys.enc, iv)
    const ct = Buffer.concat([c.update(plaintext), c.final()])
    const tag = createHmac('sha256', keys.mac)
      .update(Buffer.concat([aad, header, ct]))
      .digest()
    expect(env.toString('hex')).to.equal(Buffer.concat([header, ct, tag]).toString('hex'))
    expect(envelopeHeader(0x01020304, iv).equals(header)).to.equal(true)
  })

  it('the tag equals the SQL formula SHA2(outer ‖ SHA2(inner ‖ msg)) with hmacPads', () => {
    const env = sealEnvelope(plaintext, keys, 3, aad)
    const { inner, outer } = hmacPads(keys.mac)
    const msg = Buffer.concat([aad, env.subarray(0, env.length - 32)])
    const innerHash = createHash('sha256')
      .update(Buffer.concat([inner, msg]))
      .digest()
    const tag = createHash('sha256')
      .update(Buffer.concat([outer, innerHash]))
      .digest()
    expect(tag.equals(env.subarray(env.length - 32))).to.equal(true)
  })

  it('round-trips, and envelopeKeyVersion reads the header', () => {
    const env = sealEnvelope(plaintext, keys, 42, aad)
    expect(openEnvelope(env, keys, aad).equals(plaintext)).to.equal(true)
    expect(envelopeKeyVersion(env)).to.equal(42)
    expect(envelopeKeyVersion(sealEnvelope(plaintext, keys, 0xffffffff, aad))).to.equal(
      0xffffffff,
    )
  })

  it('two seals of the same value use different IVs (and differ entirely)', () => {
    const a = sealEnvelope(plaintext, keys, 1, aad)
    const b = sealEnvelope(plaintext, keys, 1, aad)
    expect(a.subarray(5, 21).equals(b.subarray(5, 21))).to.equal(false)
    expect(a.equals(b)).to.equal(false)
  })

  it('every bit flip in every byte → OpenFailedError', async () => {
    const env = sealEnvelope(plaintext, keys, 1, aad)
    for (let i = 0; i < env.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(env)
        bad[i]! ^= 1 << bit
        expect(
          await caught(() => openEnvelope(bad, keys, aad)),
          `byte ${i} bit ${bit}`,
        ).to.be.instanceOf(OpenFailedError)
      }
    }
  })

  it('every truncation, an extension by 1 and by a block → OpenFailedError', async () => {
    const env = sealEnvelope(plaintext, keys, 1, aad)
    for (let n = 0; n < env.length; n++) {
      await expectError(
        () => openEnvelope(env.subarray(0, n), keys, aad),
        OpenFailedError,
      )
    }
    await expectError(
      () => openEnvelope(Buffer.concat([env, Buffer.alloc(1)]), keys, aad),
      OpenFailedError,
    )
    await expectError(
      () => openEnvelope(Buffer.concat([env, Buffer.alloc(16)]), keys, aad),
      OpenFailedError,
    )
  })

  it('another table, column or row (or keys of another patient) → OpenFailedError', async () => {
    const env = sealEnvelope(plaintext, keys, 1, aad)
    const otherRow = Buffer.from(rowId)
    otherRow[15]! ^= 1
    for (const other of [
      envelopeAad('patient_notes', 'value', rowId),
      envelopeAad('patient_values', 'value_2', rowId),
      envelopeAad('patient_values', 'value', otherRow),
      envelopeAad('patient_value', 'svalue', rowId), // same letters, other split
    ]) {
      await expectError(() => openEnvelope(env, keys, other), OpenFailedError)
    }
    await expectError(
      () => openEnvelope(env, deriveFieldKeys(generatePatientKey()), aad),
      OpenFailedError,
    )
    await expectError(
      () => openEnvelope(env, { enc: keys.enc, mac: keys.enc }, aad),
      OpenFailedError,
    )
  })

  it('bad PKCS#7 padding under a valid tag → OpenFailedError, same error as a bad tag', async () => {
    const header = envelopeHeader(1, iv)
    const c = createCipheriv('aes-256-cbc', keys.enc, iv).setAutoPadding(false)
    const ct = Buffer.concat([c.update(Buffer.alloc(16, 0)), c.final()]) // last byte 0x00: invalid padding
    const tag = createHmac('sha256', keys.mac)
      .update(Buffer.concat([aad, header, ct]))
      .digest()
    const err = await expectError(
      () => openEnvelope(Buffer.concat([header, ct, tag]), keys, aad),
      OpenFailedError,
    )
    expect(err.message).to.equal(new OpenFailedError().message)
    // Sanity: node itself refuses that padding.
    const d = createDecipheriv('aes-256-cbc', keys.enc, iv)
    d.update(ct)
    expect(() => d.final()).to.throw()
  })

  it('a version byte other than 0x01 is refused by open and by envelopeKeyVersion', async () => {
    const env = sealEnvelope(plaintext, keys, 1, aad)
    env[0] = 0x02
    await expectError(() => openEnvelope(env, keys, aad), OpenFailedError)
    await expectError(() => envelopeKeyVersion(env), OpenFailedError)
    await expectError(() => envelopeKeyVersion(Buffer.alloc(68, 1)), OpenFailedError)
  })

  it('every string of the Big List of Naughty Strings round-trips (UTF-8)', () => {
    const strings = readVectorJson<string[]>('blns/blns.json')
    expect(strings.length).to.be.greaterThan(500)
    for (const s of strings) {
      const pt = Buffer.from(s, 'utf8')
      const env = sealEnvelope(pt, keys, 1, aad)
      expect(env).to.have.length(envelopeLength(pt.length))
      expect(openEnvelope(env, keys, aad).toString('utf8')).to.equal(s)
    }
  })

  it('every entry of blns.base64.json round-trips as raw bytes', () => {
    const encoded = readVectorJson<string[]>('blns/blns.base64.json')
    expect(encoded.length).to.be.greaterThan(500)
    for (const b64 of encoded) {
      const pt = Buffer.from(b64, 'base64')
      expect(openEnvelope(sealEnvelope(pt, keys, 1, aad), keys, aad).equals(pt)).to.equal(
        true,
      )
    }
  })

  it('random binary values of every length 0..256 round-trip', () => {
    for (let n = 0; n <= 256; n++) {
      const pt = Buffer.alloc(n)
      for (let i = 0; i < n; i++) pt[i] = (i * 131 + n) & 0xff
      expect(openEnvelope(sealEnvelope(pt, keys, n, aad), keys, aad).equals(pt)).to.equal(
        true,
      )
    }
  })
})

describe('crypto/envelope: envelopeAad', () => {
  const rowId = Buffer.alloc(16, 0xab)

  it('= "emr-vault/v1" ‖ len8 ‖ table ‖ len8 ‖ column ‖ rowId', () => {
    expect(envelopeAad('t1', 'col_a', rowId).toString('hex')).to.equal(
      Buffer.concat([
        Buffer.from('emr-vault/v1'),
        hex('02'),
        Buffer.from('t1'),
        hex('05'),
        Buffer.from('col_a'),
        rowId,
      ]).toString('hex'),
    )
  })

  it('is unambiguous: splits of the same letters differ', () => {
    expect(envelopeAad('ab', 'c', rowId).equals(envelopeAad('a', 'bc', rowId))).to.equal(
      false,
    )
  })

  it('refuses identifiers outside [a-z0-9_]{1,64} with RangeError naming the argument', async () => {
    for (const bad of [
      '',
      'Patients',
      'patient-values',
      'a b',
      'a`b',
      'é',
      'x'.repeat(65),
      'a;drop',
    ]) {
      await expectError(() => envelopeAad(bad, 'c', rowId), RangeError, '"table"')
      await expectError(() => envelopeAad('t', bad, rowId), RangeError, '"column"')
    }
    expect(envelopeAad('x'.repeat(64), '0_9', rowId)).to.be.instanceOf(Buffer)
  })
})
