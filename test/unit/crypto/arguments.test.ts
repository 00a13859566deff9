// Argument checks of every public crypto function, as a table (noble-hashes'
// test/utils.ts TYPE_TEST style): each Buffer argument gets every wrong type
// (TypeError) and, where it has a fixed length, 16- and 48-byte values (RangeError);
// each message names the argument and never echoes a value.
import { expect } from 'chai'
import { aes256CbcDecrypt, aes256CbcEncrypt } from '../../../src/crypto/aes-cbc.js'
import { aes256GcmOpen, aes256GcmSeal } from '../../../src/crypto/aes-gcm.js'
import { abytes, randomBytes, wipe } from '../../../src/crypto/bytes.js'
import {
  envelopeAad,
  envelopeHeader,
  envelopeKeyVersion,
  envelopeLength,
  openEnvelope,
  sealEnvelope,
} from '../../../src/crypto/envelope.js'
import { deriveFieldKeys, hmacPads } from '../../../src/crypto/field-keys.js'
import { hkdfSha256 } from '../../../src/crypto/hkdf.js'
import { hmacPadsForKey, hmacSha256 } from '../../../src/crypto/hmac.js'
import {
  hpkeOpenBase,
  hpkeSealBase,
  type HpkeSealed,
} from '../../../src/crypto/hpke-base.js'
import { TEST_KDF_POLICY } from '../../../src/crypto/kdf-policy.js'
import { deriveKek, scryptRaw } from '../../../src/crypto/kek.js'
import { generateUserKeyPair, x25519PublicKeyOf } from '../../../src/crypto/keypair.js'
import {
  checkPasswordVerifier,
  hashPasswordVerifier,
} from '../../../src/crypto/password-verifier.js'
import { openPatientKey, sealPatientKey } from '../../../src/crypto/patient-key-seal.js'
import { unwrapPrivateKey, wrapPrivateKey } from '../../../src/crypto/private-key-wrap.js'
import {
  x25519PrivateKeyObject,
  x25519PublicKeyObject,
} from '../../../src/crypto/x25519-key-object.js'
import { caught, expectError } from './helpers.js'

const CANARY = 'CANARY-5ecret-value'
/** Wrong types for a Buffer argument, and the type name the message must give. */
const NOT_BUFFERS: [unknown, string][] = [
  [undefined, 'undefined'],
  [null, 'null'],
  [CANARY, 'string'],
  [32, 'number'],
  [32n, 'bigint'],
  [true, 'boolean'],
  [new Uint8Array(32), 'Uint8Array'],
  [new Uint16Array(16), 'Uint16Array'],
  [new ArrayBuffer(32), 'ArrayBuffer'],
  [new DataView(new ArrayBuffer(32)), 'DataView'],
  [Array.from({ length: 32 }, () => 0), 'Array'],
  [{ length: 32 }, 'Object'],
  [Object.create(null), 'object'],
]

const b = (n: number, fill = 1) => Buffer.alloc(n, fill)
const kp = generateUserKeyPair()
const ctx = { patientId: 'p', keyVersion: 1, recipientId: 'u' }
const keys = { enc: b(32), mac: b(32, 2) }
const aad = envelopeAad('t', 'c', b(16))
let grant: Buffer
let hpke: HpkeSealed

/** A public function, valid arguments, and which argument positions are Buffers (with fixed length, if any). */
type Spec = {
  name: string
  fn: (...args: never[]) => unknown
  args: () => unknown[]
  /** [position, name, fixed length?, optional?] */
  buffers: [number, string, number?, boolean?][]
}

const SPECS: Spec[] = [
  {
    name: 'abytes',
    fn: abytes,
    args: () => [b(32), 'key', 32],
    buffers: [[0, 'key', 32]],
  },
  {
    name: 'deriveKek',
    fn: deriveKek,
    args: () => ['pw', b(16), TEST_KDF_POLICY.scrypt],
    buffers: [[1, 'salt', 16]],
  },
  {
    name: 'scryptRaw',
    fn: scryptRaw,
    args: () => [b(3), b(3), { N: 16, r: 1, p: 1 }, 32],
    buffers: [
      [0, 'password'],
      [1, 'salt'],
    ],
  },
  {
    name: 'x25519PublicKeyOf',
    fn: x25519PublicKeyOf,
    args: () => [kp.privateKey],
    buffers: [[0, 'privateKey', 32]],
  },
  {
    name: 'x25519PrivateKeyObject',
    fn: x25519PrivateKeyObject,
    args: () => [kp.privateKey],
    buffers: [[0, 'privateKey', 32]],
  },
  {
    name: 'x25519PublicKeyObject',
    fn: x25519PublicKeyObject,
    args: () => [kp.publicKey],
    buffers: [[0, 'publicKey', 32]],
  },
  {
    name: 'wrapPrivateKey',
    fn: wrapPrivateKey,
    args: () => [kp.privateKey, b(32), 'u'],
    buffers: [
      [0, 'privateKey', 32],
      [1, 'kek', 32],
    ],
  },
  {
    name: 'unwrapPrivateKey',
    fn: unwrapPrivateKey,
    args: () => [wrapPrivateKey(kp.privateKey, b(32), 'u'), b(32), 'u'],
    buffers: [
      [0, 'wrapped'],
      [1, 'kek', 32],
    ],
  },
  {
    name: 'sealPatientKey',
    fn: sealPatientKey,
    args: () => [b(32), kp.publicKey, ctx],
    buffers: [
      [0, 'patientKey', 32],
      [1, 'recipientPublicKey', 32],
    ],
  },
  {
    name: 'openPatientKey',
    fn: openPatientKey,
    args: () => [grant, kp.privateKey, ctx],
    buffers: [
      [0, 'sealed'],
      [1, 'recipientPrivateKey', 32],
    ],
  },
  {
    name: 'hpkeSealBase',
    fn: hpkeSealBase,
    args: () => [kp.publicKey, b(1), b(1), b(1)],
    buffers: [
      [0, 'recipientPublicKey', 32],
      [1, 'info'],
      [2, 'aad'],
      [3, 'plaintext'],
    ],
  },
  {
    name: 'hpkeOpenBase',
    fn: hpkeOpenBase,
    args: () => [kp.privateKey, hpke.enc, b(1), b(1), hpke.ciphertext],
    buffers: [
      [0, 'recipientPrivateKey', 32],
      [1, 'enc'],
      [2, 'info'],
      [3, 'aad'],
      [4, 'ciphertext'],
    ],
  },
  {
    name: 'deriveFieldKeys',
    fn: deriveFieldKeys,
    args: () => [b(32)],
    buffers: [[0, 'patientKey', 32]],
  },
  { name: 'hmacPads', fn: hmacPads, args: () => [b(32)], buffers: [[0, 'macKey', 32]] },
  {
    name: 'hmacPadsForKey',
    fn: hmacPadsForKey,
    args: () => [b(32)],
    buffers: [[0, 'key']],
  },
  {
    name: 'hmacSha256',
    fn: hmacSha256,
    args: () => [b(32), b(1), b(2)],
    buffers: [
      [0, 'key'],
      [1, 'parts[0]'],
      [2, 'parts[1]'],
    ],
  },
  {
    name: 'hkdfSha256',
    fn: hkdfSha256,
    args: () => [b(32), b(0), b(0), 32],
    buffers: [
      [0, 'ikm'],
      [1, 'salt'],
      [2, 'info'],
    ],
  },
  {
    name: 'aes256GcmSeal',
    fn: aes256GcmSeal,
    args: () => [b(32), b(12), b(1), b(0)],
    buffers: [
      [0, 'key', 32],
      [1, 'nonce', 12],
      [2, 'plaintext'],
      [3, 'aad'],
    ],
  },
  {
    name: 'aes256GcmOpen',
    fn: aes256GcmOpen,
    args: () => [b(32), b(12), aes256GcmSeal(b(32), b(12), b(1), b(0)), b(0)],
    buffers: [
      [0, 'key', 32],
      [1, 'nonce', 12],
      [2, 'sealed'],
      [3, 'aad'],
    ],
  },
  {
    name: 'aes256CbcEncrypt',
    fn: aes256CbcEncrypt,
    args: () => [b(32), b(16), b(1)],
    buffers: [
      [0, 'key', 32],
      [1, 'iv', 16],
      [2, 'plaintext'],
    ],
  },
  {
    name: 'aes256CbcDecrypt',
    fn: aes256CbcDecrypt,
    args: () => [b(32), b(16), aes256CbcEncrypt(b(32), b(16), b(1))],
    buffers: [
      [0, 'key', 32],
      [1, 'iv', 16],
      [2, 'ciphertext'],
    ],
  },
  {
    name: 'envelopeAad',
    fn: envelopeAad,
    args: () => ['t', 'c', b(16)],
    buffers: [[2, 'rowId', 16]],
  },
  {
    name: 'envelopeHeader',
    fn: envelopeHeader,
    args: () => [1, b(16)],
    buffers: [[1, 'iv', 16]],
  },
  {
    name: 'sealEnvelope',
    fn: sealEnvelope,
    args: () => [b(1), keys, 1, aad, b(16)],
    buffers: [
      [0, 'plaintext'],
      [3, 'aad'],
      [4, 'iv', 16, true],
    ],
  },
  {
    name: 'openEnvelope',
    fn: openEnvelope,
    args: () => [sealEnvelope(b(1), keys, 1, aad), keys, aad],
    buffers: [
      [0, 'envelope'],
      [2, 'aad'],
    ],
  },
  {
    name: 'envelopeKeyVersion',
    fn: envelopeKeyVersion,
    args: () => [b(69)],
    buffers: [[0, 'envelope']],
  },
]

/** Calls spec.fn with argument `i` replaced by `value`. */
const callWith = (spec: Spec, i: number, value: unknown) => () => {
  const args = spec.args()
  args[i] = value
  return (spec.fn as (...a: unknown[]) => unknown)(...args)
}

describe('crypto: argument checks', () => {
  before(async () => {
    grant = await sealPatientKey(b(32), kp.publicKey, ctx)
    hpke = await hpkeSealBase(kp.publicKey, b(1), b(1), b(1))
  })

  for (const spec of SPECS) {
    describe(spec.name, () => {
      it('accepts its valid arguments', async () => {
        const err = await caught(async () => {
          await (spec.fn as (...a: unknown[]) => unknown)(...spec.args())
          throw new Error('ok')
        })
        expect((err as Error).message).to.equal('ok')
      })

      for (const [i, name, length, optional] of spec.buffers) {
        it(`"${name}": every non-Buffer → TypeError naming it and its type, never its value`, async () => {
          for (const [value, type] of NOT_BUFFERS) {
            if (optional === true && value === undefined) continue
            const e = await expectError(
              callWith(spec, i, value),
              TypeError,
              `"${name}" must be a Buffer, got ${type}`,
            )
            expect(e.message).to.not.include('CANARY')
          }
        })
        if (length !== undefined) {
          it(`"${name}": 16 and 48 bytes (and ±1) → RangeError "must be ${length} bytes, got N"`, async () => {
            for (const n of new Set([16, 48, length - 1, length + 1])) {
              if (n === length) continue
              await expectError(
                callWith(spec, i, b(n)),
                RangeError,
                `"${name}" must be ${length} bytes, got ${n}`,
              )
            }
          })
        }
      }
    })
  }
})

describe('crypto: non-Buffer argument checks', () => {
  const ids: [string, (v: unknown) => () => unknown, string][] = [
    [
      'wrapPrivateKey userId',
      (v) => () => wrapPrivateKey(kp.privateKey, b(32), v as string),
      '"userId"',
    ],
    [
      'unwrapPrivateKey userId',
      (v) => () => unwrapPrivateKey(b(61), b(32), v as string),
      '"userId"',
    ],
    [
      'sealPatientKey ctx.patientId',
      (v) => () =>
        sealPatientKey(b(32), kp.publicKey, { ...ctx, patientId: v as string }),
      '"ctx.patientId"',
    ],
    [
      'openPatientKey ctx.recipientId',
      (v) => () =>
        openPatientKey(b(81), kp.privateKey, { ...ctx, recipientId: v as string }),
      '"ctx.recipientId"',
    ],
  ]
  for (const [what, call, name] of ids) {
    it(`${what}: wrong type, lone surrogate → TypeError; empty, > 65535 bytes → RangeError`, async () => {
      for (const v of [undefined, null, 42, b(1), ['u']])
        await expectError(call(v), TypeError, `${name} must be a string`)
      await expectError(call('u\uDFFF'), TypeError, `${name} must be well-formed`)
      await expectError(
        call(''),
        RangeError,
        `${name} must be 1 to 65535 bytes in UTF-8, got 0`,
      )
      await expectError(call('é'.repeat(32768)), RangeError, 'got 65536')
    })
  }

  it('ctx itself and ctx.keyVersion', async () => {
    for (const bad of [null, undefined, 'ctx', 1]) {
      await expectError(
        () => sealPatientKey(b(32), kp.publicKey, bad as never),
        TypeError,
        '"ctx" must be an object',
      )
    }
    for (const v of [-1, 2 ** 32]) {
      await expectError(
        () => sealPatientKey(b(32), kp.publicKey, { ...ctx, keyVersion: v }),
        RangeError,
        '"ctx.keyVersion" must be from 0 to 4294967295',
      )
    }
    for (const v of [1.5, '1', NaN, null]) {
      await expectError(
        () => openPatientKey(b(81), kp.privateKey, { ...ctx, keyVersion: v as number }),
        TypeError,
        '"ctx.keyVersion" must be an integer',
      )
    }
  })

  it('envelope keys and keyVersion', async () => {
    for (const bad of [null, undefined, b(64), 'keys']) {
      const expected = Buffer.isBuffer(bad)
        ? '"keys.enc" must be a Buffer'
        : '"keys" must be an object'
      await expectError(
        () => sealEnvelope(b(1), bad as never, 1, aad),
        TypeError,
        expected,
      )
    }
    await expectError(
      () => sealEnvelope(b(1), { enc: b(16), mac: b(32) }, 1, aad),
      RangeError,
      '"keys.enc" must be 32 bytes, got 16',
    )
    await expectError(
      () => openEnvelope(b(69), { enc: b(32), mac: b(48) }, aad),
      RangeError,
      '"keys.mac" must be 32 bytes, got 48',
    )
    await expectError(() => sealEnvelope(b(1), keys, -1, aad), RangeError, '"keyVersion"')
    await expectError(
      () => sealEnvelope(b(1), keys, 2 ** 32, aad),
      RangeError,
      '"keyVersion"',
    )
    await expectError(
      () => sealEnvelope(b(1), keys, 0.5, aad),
      TypeError,
      '"keyVersion" must be an integer',
    )
    await expectError(
      () => envelopeAad(1 as never, 'c', b(16)),
      TypeError,
      '"table" must be a string, got number',
    )
    await expectError(() => envelopeLength(-1), RangeError, '"plaintextBytes"')
  })

  it('integers: randomBytes n, hkdfSha256 length, scryptRaw length', async () => {
    await expectError(() => randomBytes(1.5), TypeError, '"n" must be an integer')
    await expectError(() => randomBytes(-1), RangeError, '"n"')
    await expectError(() => randomBytes(65537), RangeError, '"n"')
    await expectError(() => hkdfSha256(b(1), b(0), b(0), 0), RangeError, '"length"')
    await expectError(
      () => hkdfSha256(b(1), b(0), b(1025), 32),
      RangeError,
      '"info" must be at most 1024 bytes',
    )
    await expectError(
      () => scryptRaw(b(1), b(1), { N: 16, r: 1, p: 1 }, 0),
      RangeError,
      '"length"',
    )
    await expectError(
      () => deriveKek('pw', b(16), { N: 3, r: 1, p: 1 }),
      RangeError,
      '"params.N"',
    )
  })

  it('passwords: verifier and KEK take the same checks', async () => {
    await expectError(
      () => hashPasswordVerifier(42 as never, 4),
      TypeError,
      '"password" must be a string, got number',
    )
    await expectError(
      () => checkPasswordVerifier(null as never, '$2b$04$' + 'a'.repeat(53)),
      TypeError,
      '"password" must be a string, got null',
    )
    await expectError(
      () => deriveKek(b(3) as never, b(16), TEST_KDF_POLICY.scrypt),
      TypeError,
      '"password" must be a string, got Buffer',
    )
  })
})

describe('crypto/bytes', () => {
  it('wipe zero-fills every given buffer and skips undefined', () => {
    const x = b(8, 0xaa)
    const y = b(3, 0x55)
    wipe(x, undefined, y)
    expect(x.equals(Buffer.alloc(8))).to.equal(true)
    expect(y.equals(Buffer.alloc(3))).to.equal(true)
    expect(() => wipe()).to.not.throw()
  })

  it('wipe reaches through views: wiping a subarray zeroes those bytes of its parent', () => {
    const parent = b(8, 0xaa)
    wipe(parent.subarray(2, 4))
    expect(parent.toString('hex')).to.equal('aaaa0000aaaaaaaa')
  })

  it('randomBytes gives n fresh bytes', () => {
    expect(randomBytes(0)).to.have.length(0)
    const a = randomBytes(32)
    expect(a).to.have.length(32)
    expect(randomBytes(32).equals(a)).to.equal(false)
  })

  it('abytes without a length accepts any Buffer, including empty', () => {
    expect(() => abytes(Buffer.alloc(0), 'x')).to.not.throw()
  })
})
