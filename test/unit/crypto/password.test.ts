// Password normalisation (src/crypto/password.ts) and the bcrypt login verifier
// (src/crypto/password-verifier.ts). bcrypt has no published vectors among
// test/vectors; these are our own boundary cases, from
// NIST SP 800-63B §5.1.1.2 (NFKC, no truncation) and kelektiv/node.bcrypt.js#996.
import { expect } from 'chai'
import { MAX_PASSWORD_BYTES, normalizePassword } from '../../../src/crypto/password.js'
import {
  bcryptCostOf,
  checkPasswordVerifier,
  hashPasswordVerifier,
} from '../../../src/crypto/password-verifier.js'
import { TEST_KDF_POLICY } from '../../../src/crypto/kdf-policy.js'
import { createRequire } from 'node:module'
import { caught, expectError } from './helpers.js'

const COST = TEST_KDF_POLICY.bcryptCost

describe('crypto/password: normalizePassword', () => {
  it('NFKC: the "ﬁ" ligature equals "fi"', () => {
    expect(normalizePassword('\uFB01sh').equals(normalizePassword('fish'))).to.equal(true)
  })

  it('NFKC: composed é (U+00E9) equals decomposed e + U+0301', () => {
    const composed = 'caf\u00e9'
    const decomposed = 'cafe\u0301'
    expect(composed).to.not.equal(decomposed)
    expect(normalizePassword(composed).equals(normalizePassword(decomposed))).to.equal(
      true,
    )
    expect(normalizePassword(decomposed).toString('hex')).to.equal(
      Buffer.from('café', 'utf8').toString('hex'),
    )
  })

  it('NFKC: full-width and compatibility forms fold ("Ｐａｓｓ" = "Pass", "½" = "1⁄2")', () => {
    expect(normalizePassword('\uFF30\uFF41\uFF53\uFF53').toString()).to.equal('Pass')
    expect(normalizePassword('½').toString()).to.equal('1\u20442')
  })

  it('keeps case, spaces and emoji (no other folding)', () => {
    expect(normalizePassword(' Pa ss ').toString()).to.equal(' Pa ss ')
    expect(normalizePassword('🩺🔑').toString()).to.equal('🩺🔑')
  })

  it('72-byte boundary: exactly 72 bytes accepted, 73 rejected with the length', async () => {
    expect(MAX_PASSWORD_BYTES).to.equal(72)
    expect(normalizePassword('a'.repeat(72))).to.have.length(72)
    await expectError(
      () => normalizePassword('a'.repeat(73)),
      RangeError,
      '"password" must be at most 72 bytes in UTF-8, got 73',
    )
  })

  it('a multi-byte character crossing byte 72 is rejected, not cut', async () => {
    // 70 ASCII + "é" (2 bytes) = 72: fine. 71 + "é" = 73: the é would straddle byte 72.
    expect(normalizePassword('a'.repeat(70) + 'é')).to.have.length(72)
    await expectError(() => normalizePassword('a'.repeat(71) + 'é'), RangeError, 'got 73')
    // 69 + "🩺" (4 bytes) = 73.
    await expectError(
      () => normalizePassword('a'.repeat(69) + '🩺'),
      RangeError,
      'got 73',
    )
  })

  it('the limit applies after normalisation: "ﷺ" is 3 bytes typed, 33 after NFKC', async () => {
    expect(Buffer.byteLength('\uFDFA'.repeat(3))).to.equal(9)
    await expectError(() => normalizePassword('\uFDFA'.repeat(3)), RangeError, 'got 99')
  })

  it('rejects the empty password', async () => {
    await expectError(
      () => normalizePassword(''),
      RangeError,
      '"password" must not be empty',
    )
  })

  it('rejects lone surrogates (high and low) but accepts a proper pair', async () => {
    await expectError(() => normalizePassword('abc\uD800'), TypeError, 'lone surrogate')
    await expectError(() => normalizePassword('\uDC00abc'), TypeError, 'lone surrogate')
    expect(normalizePassword('\uD83E\uDE7A').toString()).to.equal('🩺')
  })

  it('rejects U+0000', async () => {
    await expectError(() => normalizePassword('abc\u0000def'), TypeError, 'U+0000')
  })

  it('rejects non-strings with TypeError naming the type only', async () => {
    for (const [value, type] of [
      [undefined, 'undefined'],
      [null, 'null'],
      [123, 'number'],
      [Buffer.from('secret'), 'Buffer'],
      [['p'], 'Array'],
      [{ toString: () => 'x' }, 'Object'],
    ] as const) {
      await expectError(
        () => normalizePassword(value),
        TypeError,
        `"password" must be a string, got ${type}`,
      )
    }
  })

  it('never puts the password into an error message', async () => {
    const canary = 'CANARY-S3cr3t-'
    for (const pw of [canary.repeat(6), canary + '\uD800', canary + '\u0000']) {
      const err = (await caught(() => normalizePassword(pw))) as Error
      expect(err).to.be.instanceOf(Error)
      expect(err.message).to.not.include('CANARY')
      expect(String(err.stack)).to.not.include('CANARY')
    }
  })
})

describe('crypto/password-verifier: bcrypt', () => {
  it(`round-trips at cost ${COST}, with the $2b$ prefix and the cost readable`, async () => {
    const hash = await hashPasswordVerifier('correct horse', COST)
    expect(hash).to.match(/^\$2b\$04\$[./A-Za-z0-9]{53}$/)
    expect(bcryptCostOf(hash)).to.equal(4)
    expect(await checkPasswordVerifier('correct horse', hash)).to.equal(true)
    expect(await checkPasswordVerifier('correct horsf', hash)).to.equal(false)
  })

  it('salts every hash (two hashes of one password differ, both verify)', async () => {
    const a = await hashPasswordVerifier('pw', COST)
    const b = await hashPasswordVerifier('pw', COST)
    expect(a).to.not.equal(b)
    expect(await checkPasswordVerifier('pw', b)).to.equal(true)
  })

  it('verifies the NFKC-equivalent spelling', async () => {
    const hash = await hashPasswordVerifier('\uFB01sh-caf\u00e9', COST)
    expect(await checkPasswordVerifier('fish-cafe\u0301', hash)).to.equal(true)
  })

  it('a 72-byte password verifies; one differing only after byte 72 can never be stored or checked', async () => {
    const p72 = 'x'.repeat(72)
    const hash = await hashPasswordVerifier(p72, COST)
    expect(await checkPasswordVerifier(p72, hash)).to.equal(true)
    await expectError(
      () => hashPasswordVerifier(p72 + 'A', COST),
      RangeError,
      'at most 72 bytes',
    )
    await expectError(
      () => checkPasswordVerifier(p72 + 'A', hash),
      RangeError,
      'at most 72 bytes',
    )
  })

  it('why the limit: the bcrypt package itself ignores bytes after 72 (kelektiv/node.bcrypt.js#996)', async () => {
    const bcrypt = createRequire(import.meta.url)('bcrypt') as {
      hash(d: string, r: number): Promise<string>
      compare(d: string, h: string): Promise<boolean>
    }
    const hash = await bcrypt.hash('y'.repeat(72) + 'first', 4)
    expect(await bcrypt.compare('y'.repeat(72) + 'second', hash)).to.equal(true)
  })

  it('why NUL is rejected: the bcrypt package hashes a 71-byte password and it + NUL alike', async () => {
    const bcrypt = createRequire(import.meta.url)('bcrypt') as {
      hash(d: Buffer, r: number): Promise<string>
      compare(d: Buffer, h: string): Promise<boolean>
    }
    const p71 = Buffer.from('z'.repeat(71))
    const hash = await bcrypt.hash(p71, 4)
    expect(await bcrypt.compare(Buffer.concat([p71, Buffer.of(0)]), hash)).to.equal(true)
  })

  it('accepts cost 4..31 only (the bcrypt range), as an integer', async () => {
    await expectError(
      () => hashPasswordVerifier('pw', 3),
      RangeError,
      '"cost" must be from 4 to 31, got 3',
    )
    await expectError(() => hashPasswordVerifier('pw', 32), RangeError, '"cost"')
    await expectError(
      () => hashPasswordVerifier('pw', 4.5),
      TypeError,
      '"cost" must be an integer',
    )
    await expectError(
      () => hashPasswordVerifier('pw', '12' as unknown as number),
      TypeError,
      '"cost"',
    )
  })

  it('bcryptCostOf reads $2a$/$2b$/$2y$ and refuses anything else', async () => {
    const body = '$' + 'a'.repeat(53)
    expect(bcryptCostOf('$2a$12' + body)).to.equal(12)
    expect(bcryptCostOf('$2y$10' + body)).to.equal(10)
    expect(bcryptCostOf('$2b$31' + body)).to.equal(31)
    for (const bad of [
      '',
      '$2x$12' + body,
      '$2b$03' + body,
      '$2b$32' + body,
      '$2b$12' + body + 'a',
      'plain',
    ]) {
      await expectError(
        () => bcryptCostOf(bad),
        RangeError,
        '"hash" must be a bcrypt hash',
      )
    }
    await expectError(
      () => bcryptCostOf(42 as unknown as string),
      TypeError,
      '"hash" must be a string',
    )
    await expectError(
      () => checkPasswordVerifier('pw', 'not-a-hash'),
      RangeError,
      '"hash"',
    )
  })
})
