import { expect } from '../support/chai.js'
import type { Knex } from 'knex'
import { rowIdFromString } from '../../src/db/row-id.js'
import { AuthenticationError, IntegrityError } from '../../src/errors/index.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { testDb } from '../support/test-env.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  testVault,
} from '../support/vault-fixture.js'

/** Runs `check` with one byte of a stored value flipped, then puts the value back. */
async function withFlippedByte(
  db: Knex,
  table: string,
  where: Record<string, unknown>,
  column: string,
  index: number,
  check: () => Promise<void>,
): Promise<void> {
  const [row] = await db(table).where(where).select(column)
  const original = row[column] as Buffer
  const bad = Buffer.from(original)
  bad[index]! ^= 0xff
  await db(table)
    .where(where)
    .update({ [column]: bad })
  try {
    await check()
  } finally {
    await db(table)
      .where(where)
      .update({ [column]: original })
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  )
}

describe('tampering: every altered or moved stored value is an error, never wrong data', () => {
  let vault: Vault
  let db: Knex
  let alice: Session
  let aliceCreds: { username: string; password: string }
  let patientId: string
  let otherPatientId: string
  let recordIds: string[]

  before(async () => {
    ;({ vault } = testVault())
    db = testDb()
    const a = await registerTestUser(vault, 'tamper')
    aliceCreds = a
    alice = await vault.login(a.username, a.password)
    patientId = await alice.createPatient(demoDemographics())
    otherPatientId = await alice.createPatient({
      fullName: 'Other Person',
      dateOfBirth: '1990-01-01',
    })
    recordIds = [
      await alice.addRecord(patientId, {
        kind: 'note',
        occurredOn: '2026-01-01',
        title: 'first',
        body: 'alpha',
      }),
      await alice.addRecord(patientId, {
        kind: 'note',
        occurredOn: '2026-01-02',
        title: 'second',
        body: 'beta',
      }),
      await alice.addRecord(otherPatientId, {
        kind: 'note',
        occurredOn: '2026-01-03',
        title: 'third',
      }),
    ]
  })

  after(() => alice?.close())

  it('flipping any single byte of a demographics envelope gives IntegrityError', async () => {
    const id = rowIdFromString(patientId, 'id')
    const [row] = await db('patients').where({ id }).select('phone_enc')
    const length = (row.phone_enc as Buffer).length
    expect(length).to.equal(21 + 32 + 32) // 16-byte phone pads to two blocks
    for (let i = 0; i < length; i++) {
      await withFlippedByte(db, 'patients', { id }, 'phone_enc', i, async () => {
        const err = await rejection(alice.readPatient(patientId))
        expect(err, `byte ${i}`).to.be.instanceOf(IntegrityError)
        // The row is named by its UUID string, as the API gives ids.
        expect((err as IntegrityError).message).to.equal(
          `patients.phone_enc of row ${patientId} failed its integrity check`,
        )
      })
    }
    expect((await alice.readPatient(patientId)).phone).to.equal(DEMO_DEMOGRAPHICS.phone)
  })

  it('flipping any single byte of a clinical record envelope gives IntegrityError', async () => {
    const id = rowIdFromString(recordIds[0]!, 'id')
    const [row] = await db('clinical_records').where({ id }).select('body_enc')
    for (let i = 0; i < (row.body_enc as Buffer).length; i++) {
      await withFlippedByte(db, 'clinical_records', { id }, 'body_enc', i, async () => {
        expect(
          await rejection(alice.listRecords(patientId)),
          `byte ${i}`,
        ).to.be.instanceOf(IntegrityError)
      })
    }
  })

  it('flipping any single byte of a grant gives IntegrityError', async () => {
    const where = {
      patient_id: rowIdFromString(patientId, 'p'),
      user_id: rowIdFromString(alice.userId, 'u'),
    }
    const [row] = await db('patient_key_grants').where(where).select('sealed_key')
    for (let i = 0; i < (row.sealed_key as Buffer).length; i++) {
      // A fresh session each time: a cached key must not hide the tampering.
      const fresh = await vault.login(aliceCreds.username, aliceCreds.password)
      try {
        await withFlippedByte(
          db,
          'patient_key_grants',
          where,
          'sealed_key',
          i,
          async () => {
            expect(
              await rejection(fresh.readPatient(patientId)),
              `byte ${i}`,
            ).to.be.instanceOf(IntegrityError)
          },
        )
      } finally {
        fresh.close()
      }
    }
  })

  it('flipping any single byte of the wrapped private key makes login fail with a typed error', async () => {
    const where = { id: rowIdFromString(alice.userId, 'id') }
    const [row] = await db('users').where(where).select('wrapped_private_key')
    for (let i = 0; i < (row.wrapped_private_key as Buffer).length; i++) {
      await withFlippedByte(db, 'users', where, 'wrapped_private_key', i, async () => {
        const err = await rejection(vault.login(aliceCreds.username, aliceCreds.password))
        expect(err, `byte ${i}`).to.be.instanceOf(IntegrityError)
      })
    }
    const again = await vault.login(aliceCreds.username, aliceCreds.password)
    again.close()
  })

  it('a replaced public key is detected at login', async () => {
    const where = { id: rowIdFromString(alice.userId, 'id') }
    await withFlippedByte(db, 'users', where, 'public_key', 0, async () => {
      expect(
        await rejection(vault.login(aliceCreds.username, aliceCreds.password)),
      ).to.be.instanceOf(IntegrityError)
    })
  })

  it('a wrong password is an AuthenticationError, not an integrity error', async () => {
    expect(
      await rejection(vault.login(aliceCreds.username, 'wrong password')),
    ).to.be.instanceOf(AuthenticationError)
  })

  async function swap(
    table: string,
    column: string,
    fromWhere: object,
    toWhere: object,
    check: () => Promise<void>,
  ) {
    const [from] = await db(table).where(fromWhere).select(column)
    const [to] = await db(table).where(toWhere).select(column)
    await db(table)
      .where(toWhere)
      .update({ [column]: from[column] })
    try {
      await check()
    } finally {
      await db(table)
        .where(toWhere)
        .update({ [column]: to[column] })
    }
  }

  it('an envelope moved to another row of the same patient gives IntegrityError', async () => {
    const [a, b] = recordIds.map((id) => ({ id: rowIdFromString(id, 'id') }))
    await swap('clinical_records', 'body_enc', a!, b!, async () => {
      expect(
        await rejection(alice.readRecord(patientId, recordIds[1]!)),
      ).to.be.instanceOf(IntegrityError)
    })
    expect((await alice.readRecord(patientId, recordIds[1]!)).body).to.equal('beta')
  })

  it('an envelope moved to another column of the same row gives IntegrityError', async () => {
    const id = { id: rowIdFromString(patientId, 'id') }
    const [row] = await db('patients').where(id).select('phone_enc', 'email_enc')
    await db('patients').where(id).update({ email_enc: row.phone_enc })
    try {
      expect(await rejection(alice.readPatient(patientId))).to.be.instanceOf(
        IntegrityError,
      )
    } finally {
      await db('patients').where(id).update({ email_enc: row.email_enc })
    }
  })

  it('an envelope moved to another patient gives IntegrityError', async () => {
    await swap(
      'patients',
      'full_name_enc',
      { id: rowIdFromString(patientId, 'id') },
      { id: rowIdFromString(otherPatientId, 'id') },
      async () => {
        expect(await rejection(alice.readPatient(otherPatientId))).to.be.instanceOf(
          IntegrityError,
        )
      },
    )
    // A whole record re-pointed at another patient opens under the wrong key.
    const id = { id: rowIdFromString(recordIds[2]!, 'id') }
    await db('clinical_records')
      .where(id)
      .update({ patient_id: rowIdFromString(patientId, 'p') })
    try {
      expect(await rejection(alice.listRecords(patientId))).to.be.instanceOf(
        IntegrityError,
      )
    } finally {
      await db('clinical_records')
        .where(id)
        .update({ patient_id: rowIdFromString(otherPatientId, 'p') })
    }
  })

  it('a grant moved to another patient gives IntegrityError', async () => {
    const me = rowIdFromString(alice.userId, 'u')
    const fresh = await vault.login(aliceCreds.username, aliceCreds.password)
    try {
      await swap(
        'patient_key_grants',
        'sealed_key',
        { patient_id: rowIdFromString(patientId, 'p'), user_id: me },
        { patient_id: rowIdFromString(otherPatientId, 'p'), user_id: me },
        async () => {
          expect(await rejection(fresh.readPatient(otherPatientId))).to.be.instanceOf(
            IntegrityError,
          )
        },
      )
    } finally {
      fresh.close()
    }
  })
})
