import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { emergencyKeyMac } from '../../../src/crypto/audit-mac.js'
import {
  emergencyKeyPin,
  verifyEmergencyKeyPin,
} from '../../../src/crypto/emergency-key-pin.js'

describe('emergency public key pins', () => {
  const auditKey = randomBytes(32)
  const key = { version: 2, publicKey: randomBytes(32) }

  it('is HMAC-SHA256 under an HKDF subkey of the audit key over the label, the version and the key', () => {
    const pinKey = Buffer.from(
      hkdfSync(
        'sha256',
        auditKey,
        Buffer.alloc(0),
        Buffer.from('emr-vault/emergency-key-pinning/v1'),
        32,
      ),
    )
    const version = Buffer.alloc(4)
    version.writeUInt32BE(2)
    const expected = createHmac('sha256', pinKey)
      .update(Buffer.from('emr-vault/emergency-public-key/v2'))
      .update(version)
      .update(key.publicKey)
      .digest()
    expect(emergencyKeyPin(auditKey, key)).to.deep.equal(expected)
    expect(emergencyKeyPin(auditKey, key)).not.to.deep.equal(
      createHmac('sha256', auditKey)
        .update(Buffer.from('emr-vault/emergency-public-key/v2'))
        .update(version)
        .update(key.publicKey)
        .digest(),
    )
  })

  it('verifies only the same version and key under the same audit key', () => {
    const pin = emergencyKeyPin(auditKey, key)
    expect(verifyEmergencyKeyPin(auditKey, key, pin)).to.equal(true)
    expect(verifyEmergencyKeyPin(auditKey, { ...key, version: 3 }, pin)).to.equal(false)
    expect(verifyEmergencyKeyPin(auditKey, { ...key, version: 1 }, pin)).to.equal(false)
    expect(
      verifyEmergencyKeyPin(auditKey, { ...key, publicKey: randomBytes(32) }, pin),
    ).to.equal(false)
    expect(verifyEmergencyKeyPin(randomBytes(32), key, pin)).to.equal(false)
    expect(verifyEmergencyKeyPin(auditKey, key, null)).to.equal(false)
    expect(verifyEmergencyKeyPin(auditKey, key, pin.subarray(0, 31))).to.equal(false)
  })

  it('accepts the older unversioned pin for version 1 only', () => {
    const old = emergencyKeyMac(auditKey, key.publicKey)
    expect(verifyEmergencyKeyPin(auditKey, { ...key, version: 1 }, old)).to.equal(true)
    expect(verifyEmergencyKeyPin(auditKey, key, old)).to.equal(false)
  })

  it('refuses a version out of range and a key of the wrong length', () => {
    expect(() => emergencyKeyPin(auditKey, { ...key, version: 0 })).to.throw(RangeError)
    expect(() => emergencyKeyPin(auditKey, { ...key, version: 2 ** 32 })).to.throw(
      RangeError,
    )
    expect(() =>
      emergencyKeyPin(auditKey, { ...key, publicKey: randomBytes(31) }),
    ).to.throw(RangeError)
  })
})
