import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { expect } from 'chai'
import {
  userCertificationKey,
  userKeyCertificate,
  verifyUserKeyCertificate,
} from '../../../src/crypto/user-key-certificate.js'

describe('user public key certificates', () => {
  const auditKey = randomBytes(32)
  const certKey = userCertificationKey(auditKey)
  const key = { userId: randomBytes(16), keyVersion: 1, publicKey: randomBytes(32) }

  it('derives the certification key with HKDF-SHA256 under its own label, not the audit key itself', () => {
    const expected = Buffer.from(
      hkdfSync(
        'sha256',
        auditKey,
        Buffer.alloc(0),
        Buffer.from('emr-vault/user-key-certification/v1'),
        32,
      ),
    )
    expect(certKey).to.deep.equal(expected)
    expect(certKey).not.to.deep.equal(auditKey)
  })

  it('is HMAC-SHA256 over the label, the user id, the version and the key', () => {
    const version = Buffer.alloc(4)
    version.writeUInt32BE(1)
    const expected = createHmac('sha256', certKey)
      .update(Buffer.from('emr-vault/user-public-key/v1'))
      .update(key.userId)
      .update(version)
      .update(key.publicKey)
      .digest()
    expect(userKeyCertificate(certKey, key)).to.deep.equal(expected)
  })

  it('verifies only the same user, version and key, under the same audit key', () => {
    const cert = userKeyCertificate(certKey, key)
    expect(verifyUserKeyCertificate(certKey, key, cert)).to.equal(true)
    expect(verifyUserKeyCertificate(certKey, key, null)).to.equal(false)
    expect(verifyUserKeyCertificate(certKey, key, cert.subarray(0, 31))).to.equal(false)
    for (const other of [
      { ...key, userId: randomBytes(16) },
      { ...key, keyVersion: 2 },
      { ...key, publicKey: randomBytes(32) },
    ]) {
      expect(verifyUserKeyCertificate(certKey, other, cert)).to.equal(false)
    }
    const otherDeployment = userCertificationKey(randomBytes(32))
    expect(verifyUserKeyCertificate(otherDeployment, key, cert)).to.equal(false)
  })

  it('refuses malformed arguments', () => {
    expect(() => userCertificationKey(randomBytes(31))).to.throw(RangeError)
    expect(() => userKeyCertificate(certKey, { ...key, keyVersion: 0 })).to.throw(
      RangeError,
    )
    expect(() =>
      userKeyCertificate(certKey, { ...key, userId: randomBytes(15) }),
    ).to.throw(RangeError)
    expect(() =>
      userKeyCertificate(certKey, { ...key, publicKey: randomBytes(33) }),
    ).to.throw(RangeError)
  })
})
