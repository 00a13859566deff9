// The KDF policy (src/crypto/kdf-policy.ts): the one place for password-KDF costs.
import { expect } from 'chai'
import {
  KDF_POLICY,
  SCRYPT_MAX_V_BYTES,
  TEST_KDF_POLICY,
  assertScryptParams,
  isBelowPolicy,
  type KdfPolicy,
} from '../../../src/crypto/kdf-policy.js'
import { expectError } from './helpers.js'

describe('crypto/kdf-policy', () => {
  it('production: scrypt N=2^17 r=8 p=1 (OWASP), bcrypt cost 12 (docs/concepts.md)', () => {
    expect(KDF_POLICY).to.deep.equal({
      scrypt: { N: 131072, r: 8, p: 1 },
      bcryptCost: 12,
    })
  })

  it('test costs: scrypt N=2^10, bcrypt 4', () => {
    expect(TEST_KDF_POLICY).to.deep.equal({
      scrypt: { N: 1024, r: 8, p: 1 },
      bcryptCost: 4,
    })
  })

  it('is frozen, deeply', () => {
    expect(Object.isFrozen(KDF_POLICY)).to.equal(true)
    expect(Object.isFrozen(KDF_POLICY.scrypt)).to.equal(true)
    expect(Object.isFrozen(TEST_KDF_POLICY.scrypt)).to.equal(true)
  })

  it('isBelowPolicy: test costs are below production; production is not below itself', () => {
    expect(isBelowPolicy(TEST_KDF_POLICY, KDF_POLICY)).to.equal(true)
    expect(isBelowPolicy(KDF_POLICY, KDF_POLICY)).to.equal(false)
    expect(isBelowPolicy(KDF_POLICY, TEST_KDF_POLICY)).to.equal(false)
  })

  it('isBelowPolicy: any single component below counts, even if another is above', () => {
    const p = KDF_POLICY
    const cases: [KdfPolicy, boolean][] = [
      [{ scrypt: { N: 2 ** 16, r: 8, p: 1 }, bcryptCost: 12 }, true],
      [{ scrypt: { N: 2 ** 17, r: 4, p: 1 }, bcryptCost: 12 }, true],
      [{ scrypt: { N: 2 ** 17, r: 8, p: 1 }, bcryptCost: 11 }, true],
      [{ scrypt: { N: 2 ** 16, r: 8, p: 2 }, bcryptCost: 13 }, true],
      [{ scrypt: { N: 2 ** 18, r: 8, p: 1 }, bcryptCost: 12 }, false],
      [{ scrypt: { N: 2 ** 17, r: 8, p: 2 }, bcryptCost: 14 }, false],
    ]
    for (const [stored, below] of cases)
      expect(isBelowPolicy(stored, p), JSON.stringify(stored)).to.equal(below)
  })

  it('assertScryptParams accepts the policies and the RFC 7914 parameter sets', () => {
    for (const s of [
      KDF_POLICY.scrypt,
      TEST_KDF_POLICY.scrypt,
      { N: 16, r: 1, p: 1 },
      { N: 1024, r: 8, p: 16 },
      { N: 2 ** 20, r: 8, p: 1 },
    ]) {
      expect(() => assertScryptParams(s, 'params')).to.not.throw()
    }
  })

  it('assertScryptParams refuses malformed or unbounded params (a tampered DB row must not cost gigabytes)', async () => {
    const range: unknown[] = [
      { N: 1, r: 8, p: 1 },
      { N: 1000, r: 8, p: 1 },
      { N: 2 ** 17, r: 0, p: 1 },
      { N: 2 ** 17, r: 8, p: 0 },
      { N: 2 ** 17, r: 8, p: 17 },
      { N: 2 ** 21, r: 8, p: 1 },
      { N: 2 ** 20, r: 9, p: 1 },
      { N: 2 ** 31, r: 1, p: 1 },
    ]
    for (const s of range)
      await expectError(() => assertScryptParams(s, 'params'), RangeError, '"params')
    const types: unknown[] = [
      null,
      'N=16',
      16,
      { N: '16', r: 8, p: 1 },
      { N: 16, r: 8 },
      { N: 16.5, r: 8, p: 1 },
    ]
    for (const s of types)
      await expectError(() => assertScryptParams(s, 'params'), TypeError, '"params')
    expect(128 * 2 ** 20 * 8).to.equal(SCRYPT_MAX_V_BYTES)
  })

  it('isBelowPolicy checks its arguments', async () => {
    await expectError(
      () => isBelowPolicy(null as unknown as KdfPolicy, KDF_POLICY),
      TypeError,
      '"stored"',
    )
    await expectError(
      () =>
        isBelowPolicy({ scrypt: KDF_POLICY.scrypt } as unknown as KdfPolicy, KDF_POLICY),
      TypeError,
      '"stored.bcryptCost"',
    )
    await expectError(
      () => isBelowPolicy(KDF_POLICY, { scrypt: { N: 3, r: 8, p: 1 }, bcryptCost: 12 }),
      RangeError,
      '"policy.scrypt.N"',
    )
  })
})
