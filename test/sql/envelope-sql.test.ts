import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import type { Knex } from 'knex'
import { envelopeAad, openEnvelope, sealEnvelope } from '../../src/crypto/envelope.js'
import { OpenFailedError } from '../../src/crypto/open-failed-error.js'
import { ValidationError } from '../../src/errors/index.js'
import {
  decodeOpened,
  openSql,
  sealSql,
  sqlFieldKeys,
  type SqlFieldKeys,
} from '../../src/sql/envelope-sql.js'
import { MODE_REFUSAL_SQL, modeChecked } from '../../src/sql/mode-guard.js'
import { selectRows } from '../../src/sql/prepared.js'
import { testDb } from '../support/test-env.js'

const rowId = () => randomBytes(16)
const fieldKeys = () => ({ enc: randomBytes(32), mac: randomBytes(32) })
/** The mode check's own bindings (test vector key, IV, answer), first in every builder. */
const modeCheckBindings = () => modeChecked('x', 'y').bindings

describe('envelope SQL builders (compiled, no database)', () => {
  const keys = sqlFieldKeys(fieldKeys(), 7)
  const aad = envelopeAad('patients', 'full_name_enc', rowId())

  it('sealSql keeps every secret in bindings, in placeholder order', () => {
    const plaintext = Buffer.from('Jane Roe')
    const iv = Buffer.alloc(16, 0xab)
    const { sql, bindings } = sealSql(plaintext, keys, aad, iv)
    expect(sql.split('?').length - 1).to.equal(bindings.length)
    expect(sql).to.match(/AES_ENCRYPT\(\?, \?, \?\)/)
    expect(sql).not.to.include('Jane')
    expect(sql).to.include(MODE_REFUSAL_SQL)
    const header = bindings[6] as Buffer
    expect(bindings).to.deep.equal([
      ...modeCheckBindings(),
      keys.outer,
      keys.inner,
      aad,
      header,
      plaintext,
      keys.enc,
      iv,
    ])
    expect(header.toString('hex')).to.equal('01' + '00000007' + 'ab'.repeat(16))
  })

  it('openSql quotes identifiers and binds pads, AAD prefix and key', () => {
    const prefix = aad.subarray(0, -16)
    const { sql, bindings } = openSql('p.full_name_enc', keys, prefix, 'p.id')
    expect(sql).to.include('`p`.`full_name_enc`').and.include('`p`.`id`')
    expect(sql.split('?').length - 1).to.equal(bindings.length)
    expect(sql).to.include(MODE_REFUSAL_SQL)
    expect(bindings).to.deep.equal([
      ...modeCheckBindings(),
      keys.outer,
      keys.inner,
      prefix,
      keys.enc,
    ])
  })

  it('rejects identifiers that are not plain lower-case names', () => {
    for (const bad of ['p.full name', 'x`; DROP TABLE users; --', 'a.b.c', 'Upper']) {
      expect(() => openSql(bad, keys, aad, 'p.id'), bad).to.throw(ValidationError)
    }
  })

  it('rejects 16- and 48-byte keys before any SQL is built', () => {
    for (const size of [0, 16, 31, 33, 48]) {
      expect(() => sqlFieldKeys({ enc: randomBytes(size), mac: randomBytes(32) }, 1))
        .to.throw(ValidationError)
        .with.property('message', `"enc" must be 32 bytes, got ${size}`)
      expect(() => sqlFieldKeys({ enc: randomBytes(32), mac: randomBytes(size) }, 1))
        .to.throw(ValidationError)
        .with.property('message', `"mac" must be 32 bytes, got ${size}`)
    }
    expect(() =>
      sqlFieldKeys({ enc: 'k'.repeat(32) as unknown as Buffer, mac: randomBytes(32) }, 1),
    ).to.throw(ValidationError, /"enc" must be a Buffer/)
    expect(() => sqlFieldKeys(fieldKeys(), 0)).to.throw(ValidationError, /keyVersion/)
  })

  it('decodeOpened tells NULL, tampered and plaintext apart', () => {
    expect(decodeOpened(null)).to.equal(null)
    expect(decodeOpened(Buffer.of(0x00))).to.equal('tampered')
    expect(decodeOpened(Buffer.of(0x01))).to.deep.equal(Buffer.alloc(0))
    expect(decodeOpened(Buffer.from([0x01, 0x41]))?.toString()).to.equal('A')
  })
})

describe('envelope SQL on the server agrees with the Node reference (crypto/envelope.ts)', () => {
  let db: Knex
  const raw = fieldKeys()
  let keys: SqlFieldKeys

  before(() => {
    db = testDb()
    keys = sqlFieldKeys(raw, 3)
  })

  async function sealOnServer(
    plaintext: Buffer,
    aad: Buffer,
    iv?: Buffer,
  ): Promise<Buffer> {
    const { sql, bindings } = sealSql(plaintext, keys, aad, iv)
    const [row] = await selectRows<{ e: Buffer }>(
      db,
      db.raw(`SELECT ${sql} AS e`, [...bindings] as Knex.RawBinding[]),
    )
    return row!.e
  }

  async function openOnServer(
    envelope: Buffer | null,
    aad: Buffer,
  ): Promise<Buffer | null | 'tampered'> {
    const prefix = aad.subarray(0, -16)
    const id = aad.subarray(-16)
    const { sql, bindings } = openSql('v.env', keys, prefix, 'v.id')
    const [row] = await selectRows<{ o: Buffer | null }>(
      db,
      db.raw(
        `SELECT ${sql} AS o FROM (SELECT CAST(? AS BINARY) AS env, CAST(? AS BINARY) AS id) AS v`,
        [...bindings, envelope, id] as Knex.RawBinding[],
      ),
    )
    return decodeOpened(row!.o)
  }

  it('server-sealed envelopes equal Node-sealed ones byte for byte (same IV) and open in Node', async () => {
    for (const size of [0, 1, 15, 16, 17, 255, 4096]) {
      const plaintext = randomBytes(size)
      const aad = envelopeAad('clinical_records', 'body_enc', rowId())
      const iv = randomBytes(16)
      const fromServer = await sealOnServer(plaintext, aad, iv)
      expect(
        fromServer.equals(sealEnvelope(plaintext, raw, 3, aad, iv)),
        `size ${size}`,
      ).to.equal(true)
      expect(openEnvelope(fromServer, raw, aad).equals(plaintext)).to.equal(true)
    }
  })

  it('Node-sealed envelopes open on the server', async () => {
    for (const size of [0, 1, 16, 1000]) {
      const plaintext = randomBytes(size)
      const aad = envelopeAad('patients', 'phone_enc', rowId())
      const opened = await openOnServer(sealEnvelope(plaintext, raw, 3, aad), aad)
      expect(
        Buffer.isBuffer(opened) && opened.equals(plaintext),
        `size ${size}`,
      ).to.equal(true)
    }
  })

  it('uses a fresh IV per value', async () => {
    const aad = envelopeAad('patients', 'phone_enc', rowId())
    const a = await sealOnServer(Buffer.from('same'), aad)
    const b = await sealOnServer(Buffer.from('same'), aad)
    expect(a.subarray(5, 21).equals(b.subarray(5, 21))).to.equal(false)
    expect(a.equals(b)).to.equal(false)
  })

  it('reports every single-bit flip, truncation, and a wrong row, column or table as tampered', async () => {
    const aad = envelopeAad('patients', 'phone_enc', rowId())
    const envelope = await sealOnServer(Buffer.from('+1 555 0100'), aad)
    for (let i = 0; i < envelope.length; i++) {
      const bad = Buffer.from(envelope)
      bad[i]! ^= 0x01
      expect(await openOnServer(bad, aad), `flip at byte ${i}`).to.equal('tampered')
    }
    for (const cut of [1, 16, 32, envelope.length - 1]) {
      expect(
        await openOnServer(envelope.subarray(0, envelope.length - cut), aad),
      ).to.equal('tampered')
    }
    expect(await openOnServer(Buffer.alloc(0), aad)).to.equal('tampered')
    const otherRow = Buffer.concat([aad.subarray(0, -16), rowId()])
    expect(await openOnServer(envelope, otherRow)).to.equal('tampered')
    const otherColumn = envelopeAad('patients', 'email_enc', aad.subarray(-16))
    expect(await openOnServer(envelope, otherColumn)).to.equal('tampered')
    const otherTable = envelopeAad('clinical_records', 'phone_enc', aad.subarray(-16))
    expect(await openOnServer(envelope, otherTable)).to.equal('tampered')
    expect(await openOnServer(null, aad)).to.equal(null)
  })

  it('a Node-side open of a tampered server envelope throws OpenFailedError', async () => {
    const aad = envelopeAad('patients', 'phone_enc', rowId())
    const envelope = await sealOnServer(Buffer.from('x'), aad)
    envelope[envelope.length - 1]! ^= 0x80
    expect(() => openEnvelope(envelope, raw, aad)).to.throw(OpenFailedError)
  })
})
