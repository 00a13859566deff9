import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { expect } from 'chai'
import type { Knex } from 'knex'
import { selectRows } from '../../src/sql/prepared.js'
import { createDb } from '../../src/db/index.js'
import { testDbConfig } from '../support/test-env.js'
import { readVectorJson } from '../support/vectors.js'

interface CbcVector {
  tcId: number
  key: string
  iv: string
  msg: string
  ct: string
  result: 'valid' | 'invalid' | 'acceptable'
  flags: string[]
}
interface CbcFile {
  testGroups: { keySize: number; tests: CbcVector[] }[]
}

/** Wycheproof AES-CBC-PKCS5 (C2SP/wycheproof testvectors_v1/aes_cbc_pkcs5_test.json), 256-bit keys only. */
const vectors = readVectorJson<CbcFile>('wycheproof/aes_cbc_pkcs5_test.json')
  .testGroups.filter((g) => g.keySize === 256)
  .flatMap((g) => g.tests)

async function warnings(trx: Knex.Transaction): Promise<unknown[]> {
  const [rows] = await trx.raw('SHOW WARNINGS')
  return rows as unknown[]
}

describe('AES_ENCRYPT / AES_DECRYPT agree with node:crypto (aes-256-cbc)', () => {
  // A pool of its own: SHOW WARNINGS must speak of these statements only. On
  // MariaDB 11.8 a statement that uses no table does not clear the message list,
  // so a shared connection still shows an earlier statement's error (the
  // doctor's refused seal under ECB, for one).
  let db: Knex
  before(() => {
    db = createDb({ ...testDbConfig(), poolMax: 1 })
  })
  after(async () => {
    await db?.destroy()
  })

  it('has the Wycheproof 256-bit vectors at hand', () => {
    expect(vectors.length).to.equal(72)
    expect(vectors.filter((v) => v.result === 'valid').length).to.be.greaterThan(20)
    expect(vectors.filter((v) => v.result === 'invalid').length).to.be.greaterThan(20)
  })

  it('encrypts and decrypts every valid vector exactly, and returns NULL for bad padding, with no warnings', async () => {
    await db.transaction(async (trx) => {
      for (const v of vectors) {
        const key = Buffer.from(v.key, 'hex')
        const iv = Buffer.from(v.iv, 'hex')
        const msg = Buffer.from(v.msg, 'hex')
        const ct = Buffer.from(v.ct, 'hex')
        const [row] = await selectRows<{ enc: Buffer; decrypted: Buffer | null }>(
          trx,
          trx.raw(
            'SELECT AES_ENCRYPT(?, ?, ?) AS enc, AES_DECRYPT(?, ?, ?) AS decrypted',
            [msg, key, iv, ct, key, iv],
          ),
        )
        expect(await warnings(trx), `tcId ${v.tcId} warnings`).to.deep.equal([])
        if (v.result === 'valid') {
          expect(row?.enc.toString('hex'), `tcId ${v.tcId} encrypt`).to.equal(v.ct)
          expect(row?.decrypted?.toString('hex'), `tcId ${v.tcId} decrypt`).to.equal(
            v.msg,
          )
        } else {
          expect(row?.decrypted, `tcId ${v.tcId} (${v.flags.join(',')})`).to.equal(null)
        }
      }
    })
  })

  it('round-trips random values both ways: server to Node and Node to server', async () => {
    await db.transaction(async (trx) => {
      for (const size of [0, 1, 15, 16, 17, 1000, 65_536]) {
        const key = randomBytes(32)
        const iv = randomBytes(16)
        const plain = randomBytes(size)
        const [fromServer] = await selectRows<{ enc: Buffer }>(
          trx,
          trx.raw('SELECT AES_ENCRYPT(?, ?, ?) AS enc', [plain, key, iv]),
        )
        const decipher = createDecipheriv('aes-256-cbc', key, iv)
        const opened = Buffer.concat([decipher.update(fromServer!.enc), decipher.final()])
        expect(opened.equals(plain), `server→node size ${size}`).to.equal(true)

        const cipher = createCipheriv('aes-256-cbc', key, iv)
        const sealed = Buffer.concat([cipher.update(plain), cipher.final()])
        const [fromNode] = await selectRows<{ decrypted: Buffer }>(
          trx,
          trx.raw('SELECT AES_DECRYPT(?, ?, ?) AS decrypted', [sealed, key, iv]),
        )
        expect(fromNode!.decrypted.equals(plain), `node→server size ${size}`).to.equal(
          true,
        )
        expect(await warnings(trx)).to.deep.equal([])
      }
    })
  })
})
