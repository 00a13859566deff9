// Private-key wrap under the KEK (src/crypto/private-key-wrap.ts): AES-256-GCM with
// AAD naming the user. Its AEAD layer is checked against Wycheproof in aes-gcm.test.ts.
import { expect } from 'chai'
import { generateUserKeyPair } from '../../../src/crypto/keypair.js'
import { OpenFailedError } from '../../../src/crypto/open-failed-error.js'
import {
  WRAPPED_PRIVATE_KEY_BYTES,
  unwrapPrivateKey,
  wrapPrivateKey,
} from '../../../src/crypto/private-key-wrap.js'
import { randomBytes } from '../../../src/crypto/bytes.js'
import { caught, expectError } from './helpers.js'

describe('crypto/private-key-wrap', () => {
  const { privateKey } = generateUserKeyPair()
  const kek = randomBytes(32)
  const userId = 'user-0193a2b4'
  const wrapped = wrapPrivateKey(privateKey, kek, userId)

  it('round-trips; format is 0x01 ‖ nonce (12) ‖ ct (32) ‖ tag (16) = 61 bytes', () => {
    expect(wrapped).to.have.length(WRAPPED_PRIVATE_KEY_BYTES).and.to.have.length(61)
    expect(wrapped[0]).to.equal(0x01)
    expect(unwrapPrivateKey(wrapped, kek, userId).equals(privateKey)).to.equal(true)
  })

  it('fresh nonce per wrap', () => {
    const again = wrapPrivateKey(privateKey, kek, userId)
    expect(again.subarray(1, 13).equals(wrapped.subarray(1, 13))).to.equal(false)
  })

  it('a wrong KEK (wrong password) → OpenFailedError', async () => {
    await expectError(
      () => unwrapPrivateKey(wrapped, randomBytes(32), userId),
      OpenFailedError,
    )
  })

  it('a wrong userId → OpenFailedError (incl. a prefix and an extension of it)', async () => {
    for (const other of [
      'user-0193a2b5',
      'user-0193a2b',
      'user-0193a2b4 ',
      'USER-0193A2B4',
    ]) {
      await expectError(() => unwrapPrivateKey(wrapped, kek, other), OpenFailedError)
    }
  })

  it('every single-byte change (each bit of each byte) → OpenFailedError', async () => {
    for (let i = 0; i < wrapped.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(wrapped)
        bad[i]! ^= 1 << bit
        expect(
          await caught(() => unwrapPrivateKey(bad, kek, userId)),
          `byte ${i} bit ${bit}`,
        ).to.be.instanceOf(OpenFailedError)
      }
    }
  })

  it('every truncation, an extension and an empty value → OpenFailedError', async () => {
    for (let n = 0; n < wrapped.length; n++) {
      await expectError(
        () => unwrapPrivateKey(wrapped.subarray(0, n), kek, userId),
        OpenFailedError,
      )
    }
    await expectError(
      () => unwrapPrivateKey(Buffer.concat([wrapped, Buffer.of(0)]), kek, userId),
      OpenFailedError,
    )
  })

  it('a non-ASCII user id works and is bound exactly', async () => {
    const id = 'médecin-Ω-🩺'
    const w = wrapPrivateKey(privateKey, kek, id)
    expect(unwrapPrivateKey(w, kek, id).equals(privateKey)).to.equal(true)
    await expectError(
      () => unwrapPrivateKey(w, kek, id.normalize('NFD')),
      OpenFailedError,
    )
  })
})
