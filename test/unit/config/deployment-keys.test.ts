import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import { devAuditKey, devRecoveryPublicKey } from '../../../src/cli/deployment-keys.js'
import { deploymentKeysFromEnv } from '../../../src/config/deployment-keys.js'
import { generateUserKeyPair } from '../../../src/crypto/keypair.js'
import { ConfigurationError } from '../../../src/errors/index.js'
import { deploymentKeysFromEnv as publicReader } from '../../../src/index.js'

const AUDIT = 'EMR_VAULT_AUDIT_KEY'
const RECOVERY = 'EMR_VAULT_RECOVERY_PUBLIC_KEY'
const SEARCH = 'EMR_VAULT_SEARCH_KEY'
const PREVIOUS_SEARCH = 'EMR_VAULT_PREVIOUS_SEARCH_KEY'

/** A good environment: a fresh audit key and a real recovery public key. */
function goodEnv(): {
  env: NodeJS.ProcessEnv
  auditKey: Buffer
  recoveryPublicKey: Buffer
  searchKey: Buffer
} {
  const auditKey = randomBytes(32)
  const searchKey = randomBytes(32)
  const { publicKey: recoveryPublicKey } = generateUserKeyPair()
  return {
    env: {
      [AUDIT]: auditKey.toString('base64'),
      [RECOVERY]: recoveryPublicKey.toString('base64'),
      [SEARCH]: searchKey.toString('base64'),
    },
    auditKey,
    recoveryPublicKey,
    searchKey,
  }
}

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected an error, none was thrown')
}

/**
 * The reader refuses `value` in `variable` with a ConfigurationError that names
 * the variable and carries nothing of the value: not in the message, the stack
 * or a cause, not even a 6-character piece of it.
 */
function expectRefused(variable: string, value: string | undefined, why: string): void {
  const { env } = goodEnv()
  if (value === undefined) delete env[variable]
  else env[variable] = value
  const err = thrown(() => deploymentKeysFromEnv(env))
  expect(err, why).to.be.instanceOf(ConfigurationError)
  const e = err as ConfigurationError
  expect(e.code, why).to.equal('CONFIGURATION')
  expect(e.message, why).to.include(variable)
  expect(e.cause, why).to.equal(undefined)
  const text = `${e.message}\n${e.stack ?? ''}\n${JSON.stringify(e)}`
  const secret = (value ?? '').replace(/\s/g, '')
  for (let at = 0; at + 6 <= secret.length; at++) {
    expect(
      text.includes(secret.slice(at, at + 6)),
      `${why}: leaks part of the value`,
    ).to.equal(false)
  }
}

describe('deploymentKeysFromEnv', () => {
  it('returns the keys, decoded, ready for createVault; the previous search key only when set', () => {
    const { env, auditKey, recoveryPublicKey, searchKey } = goodEnv()
    const keys = deploymentKeysFromEnv(env)
    expect(Object.keys(keys).sort()).to.deep.equal([
      'auditKey',
      'recoveryPublicKey',
      'searchKey',
    ])
    expect(keys.auditKey.equals(auditKey)).to.equal(true)
    expect(keys.recoveryPublicKey.equals(recoveryPublicKey)).to.equal(true)
    expect(keys.searchKey.equals(searchKey)).to.equal(true)
    const previous = randomBytes(32)
    const rotating = deploymentKeysFromEnv({
      ...env,
      [PREVIOUS_SEARCH]: previous.toString('base64'),
    })
    expect(rotating.previousSearchKey?.equals(previous)).to.equal(true)
    expect(publicReader).to.equal(deploymentKeysFromEnv)
  })

  it('reads process.env by default', () => {
    const { env, auditKey } = goodEnv()
    const saved = { [AUDIT]: process.env[AUDIT], [RECOVERY]: process.env[RECOVERY] }
    Object.assign(process.env, env)
    try {
      expect(deploymentKeysFromEnv().auditKey.equals(auditKey)).to.equal(true)
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  })

  it('a missing or empty variable names itself', () => {
    for (const variable of [AUDIT, RECOVERY, SEARCH]) {
      expectRefused(variable, undefined, `${variable} missing`)
      expectRefused(variable, '', `${variable} empty`)
      const { env } = goodEnv()
      delete env[variable]
      expect((thrown(() => deploymentKeysFromEnv(env)) as Error).message).to.match(
        new RegExp(`^${variable} is not set`),
      )
    }
  })

  it('refuses anything but the canonical standard base64 of exactly 32 bytes, naming the variable and never the value', () => {
    // Starts with 0xfb 0xff 0xff, "+///" in base64, so that the URL-safe form differs.
    const key = Buffer.concat([Buffer.from('fbffff', 'hex'), randomBytes(29)])
    // A last character with stray low bits decodes to the same 32 bytes in Node.
    const b64 = key.toString('base64')
    const lastIndex =
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.indexOf(b64[42]!)
    const stray = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'[
      lastIndex + 1
    ]!
    expect(Buffer.from(`${b64.slice(0, 42)}${stray}=`, 'base64').equals(key)).to.equal(
      true,
    )
    const bad: [string, string][] = [
      [`${b64}\n`, 'a trailing newline'],
      [` ${b64}`, 'a leading space'],
      [`${b64} `, 'a trailing space'],
      [`${b64.slice(0, 20)}\n${b64.slice(20)}`, 'a line break inside'],
      [`${b64.slice(0, 20)} ${b64.slice(20)}`, 'a space inside'],
      [b64.slice(0, 43), 'no padding'],
      [`${b64}=`, 'extra padding'],
      [`${b64.slice(0, 42)}${stray}=`, 'a non-canonical last character'],
      [key.toString('base64url'), 'the URL-safe alphabet without padding'],
      [`${key.toString('base64url')}=`, 'the URL-safe alphabet'],
      [key.toString('hex'), 'hex instead of base64'],
      [randomBytes(31).toString('base64'), '31 bytes'],
      [randomBytes(33).toString('base64'), '33 bytes'],
      [randomBytes(64).toString('base64'), '64 bytes'],
      [`${b64.slice(0, 10)}*${b64.slice(11)}`, 'a character outside the alphabet'],
      [`"${b64}"`, 'quotes'],
    ]
    for (const variable of [AUDIT, RECOVERY, SEARCH, PREVIOUS_SEARCH]) {
      for (const [value, why] of bad)
        expectRefused(variable, value, `${variable}: ${why}`)
    }
  })

  it('refuses an all-zero audit key and a low-order recovery public key', () => {
    expectRefused(AUDIT, Buffer.alloc(32).toString('base64'), 'all-zero audit key')
    expectRefused(SEARCH, Buffer.alloc(32).toString('base64'), 'all-zero search key')
    for (const lowOrder of [
      '0000000000000000000000000000000000000000000000000000000000000000',
      '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    ]) {
      expectRefused(RECOVERY, Buffer.from(lowOrder, 'hex').toString('base64'), lowOrder)
    }
  })

  it('names the audit key first when both are bad', () => {
    const err = thrown(() => deploymentKeysFromEnv({ [RECOVERY]: 'x' })) as Error
    expect(err.message).to.match(new RegExp(`^${AUDIT} `))
  })
})

describe('the CLI reads configured deployment keys with deploymentKeysFromEnv', () => {
  const saved = { [AUDIT]: process.env[AUDIT], [RECOVERY]: process.env[RECOVERY] }
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })

  it('a configured key is checked the same way: a good one is returned, a bad one refused', () => {
    const { env, auditKey, recoveryPublicKey } = goodEnv()
    Object.assign(process.env, env)
    expect(devAuditKey().equals(auditKey)).to.equal(true)
    expect(devRecoveryPublicKey().equals(recoveryPublicKey)).to.equal(true)
    // Before, these decoded to whatever bytes Node's lenient decoder made of them.
    process.env[AUDIT] = `${env[AUDIT]}\n`
    expect(() => devAuditKey()).to.throw(ConfigurationError, AUDIT)
    process.env[RECOVERY] = Buffer.alloc(32).toString('base64')
    expect(() => devRecoveryPublicKey()).to.throw(ConfigurationError, RECOVERY)
  })
})
