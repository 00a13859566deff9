import { expect } from '../support/chai.js'
import type { Knex } from 'knex'
import {
  AccessDeniedError,
  AuthenticationError,
  NotFoundError,
  ValidationError,
} from '../../src/errors/index.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { testDb } from '../support/test-env.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  testPassword,
  testVault,
  uniqueName,
} from '../support/vault-fixture.js'

const TABLES = [
  'users',
  'patients',
  'patient_key_versions',
  'patient_key_grants',
  'patient_key_recovery_seals',
  'clinical_records',
]

async function counts(db: Knex): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const t of TABLES) out[t] = Number((await db(t).count({ n: '*' }))[0]!.n)
  return out
}

describe('bad input gets a clear typed error and changes nothing', () => {
  let vault: Vault
  let db: Knex
  let session: Session
  let creds: { username: string; password: string }
  let patientId: string
  let before0: Record<string, number>

  before(async () => {
    ;({ vault } = testVault())
    db = testDb()
    creds = await registerTestUser(vault, 'badinput')
    session = await vault.login(creds.username, creds.password)
    patientId = await session.createPatient(demoDemographics())
  })
  beforeEach(async () => {
    before0 = await counts(db)
  })
  afterEach(async () => {
    expect(await counts(db)).to.deep.equal(before0)
  })
  after(() => session?.close())

  it('login: wrong password, unknown user and disabled user give the same AuthenticationError', async () => {
    const wrong = await vault
      .login(creds.username, 'not-the-password')
      .catch((e: unknown) => e)
    const unknown = await vault
      .login(uniqueName('nobody'), 'whatever')
      .catch((e: unknown) => e)
    const d = await registerTestUser(vault, 'disabled')
    before0 = await counts(db)
    await vault.disableUser(d.user.id)
    const disabled = await vault.login(d.username, d.password).catch((e: unknown) => e)
    for (const err of [wrong, unknown, disabled]) {
      expect(err).to.be.instanceOf(AuthenticationError)
      expect((err as Error).message).to.equal('authentication failed')
    }
    await expect(vault.login(creds.username, 42 as unknown as string)).to.be.rejectedWith(
      ValidationError,
      /"password" must be a string/,
    )
  })

  it('a disabled user loses access with an open session', async () => {
    const d = await registerTestUser(vault, 'leaver')
    await session.grant(patientId, d.user.id)
    before0 = await counts(db)
    const theirs = await vault.login(d.username, d.password)
    try {
      await theirs.readPatient(patientId)
      await vault.disableUser(d.user.id)
      await expect(theirs.readPatient(patientId)).to.be.rejectedWith(AccessDeniedError)
      await expect(session.grant(patientId, d.user.id)).to.be.rejectedWith(
        ValidationError,
        /disabled/,
      )
    } finally {
      theirs.close()
    }
  })

  it('a grant to a user that does not exist is NotFoundError; malformed ids are ValidationError', async () => {
    await expect(
      session.grant(patientId, '01900000-0000-7000-8000-000000000000'),
    ).to.be.rejectedWith(NotFoundError)
    await expect(session.grant(patientId, "1' OR '1'='1")).to.be.rejectedWith(
      ValidationError,
      /"granteeUserId" must be a UUID/,
    )
    await expect(session.readPatient('not-a-uuid')).to.be.rejectedWith(
      ValidationError,
      /"patientId"/,
    )
    await expect(
      session.readPatient('01900000-0000-7000-8000-000000000000'),
    ).to.be.rejectedWith(AccessDeniedError)
  })

  it('register: bad username, duplicate username, empty display name, bad roles, bad passwords', async () => {
    const ok = {
      username: uniqueName('new'),
      displayName: 'New User',
      password: testPassword(),
    }
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...ok, username: 'A' }, /"username"/],
      [{ ...ok, username: "x'; DROP TABLE users; --" }, /"username"/],
      [{ ...ok, username: creds.username }, /"username" is already taken/],
      [{ ...ok, displayName: '   ' }, /"displayName"/],
      [{ ...ok, roles: ['root'] }, /"roles"/],
      [{ ...ok, password: '' }, /"password"/],
      [{ ...ok, password: 'a'.repeat(73) }, /"password" .*72 bytes/],
      [{ ...ok, password: 'é'.repeat(37) }, /"password" .*72 bytes/],
      [{ ...ok, password: 'ab\uD800cd' }, /"password"/],
      [{ ...ok, password: 12345678 }, /"password"/],
    ]
    for (const [input, message] of cases) {
      await expect(
        vault.registerUser(input as never),
        JSON.stringify(input),
      ).to.be.rejectedWith(ValidationError, message)
    }
    // The error never carries the password.
    const err = await vault
      .registerUser({ ...ok, password: 'secret-'.repeat(11) })
      .catch((e: Error) => e)
    expect(String((err as Error).message)).not.to.include('secret-')
  })

  it('patients: missing, empty, oversize, mistyped, unknown and invalid-Unicode fields', async () => {
    const cases: [unknown, RegExp][] = [
      [{ dateOfBirth: '1990-01-01' }, /"fullName" is required/],
      [{ fullName: '', dateOfBirth: '1990-01-01' }, /"fullName" must not be empty/],
      [
        { fullName: 'x'.repeat(801), dateOfBirth: '1990-01-01' },
        /"fullName" must be at most 800 bytes/,
      ],
      [{ fullName: 42, dateOfBirth: '1990-01-01' }, /"fullName" must be a string/],
      [
        { fullName: 'Lone \uDC00 surrogate', dateOfBirth: '1990-01-01' },
        /"fullName" must be valid Unicode/,
      ],
      [{ fullName: 'Ok', dateOfBirth: '1990-02-30' }, /"dateOfBirth" must be a date/],
      [{ fullName: 'Ok', dateOfBirth: '01/02/1990' }, /"dateOfBirth" must be a date/],
      [
        { fullName: 'Ok', dateOfBirth: '1990-01-01', shoeSize: 9 },
        /"shoeSize" is not a known field/,
      ],
      [null, /"demographics" must be an object/],
    ]
    for (const [input, message] of cases) {
      await expect(
        session.createPatient(input as never),
        String(message),
      ).to.be.rejectedWith(ValidationError, message)
    }
    await expect(
      session.updatePatient(patientId, { fullName: null } as never),
    ).to.be.rejectedWith(ValidationError, /"fullName" is required/)
    expect((await session.readPatient(patientId)).fullName).to.equal(
      DEMO_DEMOGRAPHICS.fullName,
    )
  })

  it('text that is not well-formed Unicode is refused wherever text enters, not stored as U+FFFD', async () => {
    const lone = ['x\uD800', '\uDC00x', 'a\uDBFFb']
    const user = { username: uniqueName('lone'), password: testPassword() }
    const record = { kind: 'note', occurredOn: '2026-01-01', title: 'Fine' } as const
    const recordId = await session.addRecord(patientId, record)
    before0.clinical_records! += 1
    const demographics = ['fullName', 'sex', 'nationalId', 'address', 'phone', 'email']
    for (const bad of lone) {
      const cases: [string, () => Promise<unknown>][] = [
        ['displayName', () => vault.registerUser({ ...user, displayName: bad })],
        ['newPassword', () => vault.changePassword(creds.username, creds.password, bad)],
        ['reason', () => session.breakGlass(patientId, `${bad} is the reason given`)],
        ...demographics.map((f): [string, () => Promise<unknown>] => [
          f,
          () => session.createPatient({ ...demoDemographics(), [f]: bad } as never),
        ]),
        ...demographics.map((f): [string, () => Promise<unknown>] => [
          f,
          () => session.updatePatient(patientId, { [f]: bad }),
        ]),
        ...['title', 'code', 'body'].map((f): [string, () => Promise<unknown>] => [
          f,
          () => session.addRecord(patientId, { ...record, [f]: bad } as never),
        ]),
        ...['title', 'code', 'body'].map((f): [string, () => Promise<unknown>] => [
          f,
          () => session.updateRecord(patientId, recordId, { [f]: bad }),
        ]),
      ]
      for (const [field, call] of cases) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err, `${field} ${JSON.stringify(bad)}`).to.be.instanceOf(ValidationError)
        expect((err as ValidationError).field).to.equal(field)
      }
    }
    expect(
      (await vault.listUsers()).some((u) => u.displayName.includes('\uFFFD')),
    ).to.equal(false)
  })

  it('records: bad kind, bad date, oversize body, unknown record id', async () => {
    const base = { kind: 'note', occurredOn: '2026-01-01', title: 'Fine' }
    const cases: [unknown, RegExp][] = [
      [{ ...base, kind: 'gossip' }, /"kind" must be one of/],
      [{ ...base, occurredOn: 'yesterday' }, /"occurredOn"/],
      [{ ...base, occurredOn: '2026-01-01T25:00Z' }, /"occurredOn"/],
      [{ ...base, title: undefined }, /"title" is required/],
      [
        { ...base, body: 'x'.repeat(1024 * 1024 + 1) },
        /"body" must be at most 1048576 bytes/,
      ],
    ]
    for (const [input, message] of cases) {
      await expect(session.addRecord(patientId, input as never)).to.be.rejectedWith(
        ValidationError,
        message,
      )
    }
    await expect(
      session.readRecord(patientId, '01900000-0000-7000-8000-000000000000'),
    ).to.be.rejectedWith(NotFoundError)
    await expect(
      session.deleteRecord(patientId, '01900000-0000-7000-8000-000000000000'),
    ).to.be.rejectedWith(NotFoundError)
  })

  it('SQL-injection strings are stored and returned verbatim, and harm nothing', async () => {
    const evil = [
      "Robert'); DROP TABLE patients;--",
      "' OR '1'='1' -- ",
      "\\x00\\'; SELECT SLEEP(5); --",
      '`; DELETE FROM users; #',
      '?, ?, ?) , (0x00',
    ]
    const pid = await session.createPatient({
      fullName: evil[0]!,
      dateOfBirth: '1990-01-01',
      address: evil[1]!,
    })
    const rid = await session.addRecord(pid, {
      kind: 'note',
      occurredOn: '2026-01-01',
      title: evil[2]!,
      body: evil[3]!,
      code: evil[4]!,
    })
    const p = await session.readPatient(pid)
    expect([p.fullName, p.address]).to.deep.equal([evil[0], evil[1]])
    const r = await session.readRecord(pid, rid)
    expect([r.title, r.body, r.code]).to.deep.equal([evil[2], evil[3], evil[4]])
    before0.patients! += 1
    before0.patient_key_versions! += 1
    before0.patient_key_grants! += 1
    before0.patient_key_recovery_seals! += 1
    before0.clinical_records! += 1
  })
})
