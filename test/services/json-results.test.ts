import { randomBytes } from 'node:crypto'
import { expect } from '../support/chai.js'
import {
  auditReport,
  createVault,
  dbConfigFromEnv,
  deploymentKeysFromEnv,
  generateRecoveryKeyPair,
  runDoctor,
  verifyAuditChain,
  worstStatus,
  type Session,
  type Vault,
} from '../../src/index.js'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  demoDemographics,
  registerTestUser,
  RUN_RECOVERY,
  TEST_AUDIT_KEY,
  TEST_SEARCH_KEY,
  testPassword,
} from '../support/vault-fixture.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** The fields of the public result types that hold a row id. */
const ID_FIELDS = new Set([
  'id',
  'userId',
  'patientId',
  'authorId',
  'createdBy',
  'grantedBy',
  'actorUserId',
  'targetUserId',
])

/**
 * Asserts that `value` is plain data that JSON keeps: strings, finite numbers,
 * booleans, null, valid Dates, arrays and plain objects of those, no property
 * set to undefined (JSON would drop it). No bigint (JSON.stringify throws), no
 * Buffer (it would become `{type, data}`), no Map, Set, function or class instance.
 * With `rowIds`, every id field holds a canonical lower-case UUID string (or null).
 */
function expectPlainJson(value: unknown, path: string, rowIds: boolean): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return
  if (typeof value === 'number') {
    expect(Number.isFinite(value), `${path}: a finite number`).to.equal(true)
    return
  }
  if (value instanceof Date) {
    expect(Number.isNaN(value.getTime()), `${path}: a valid Date`).to.equal(false)
    return
  }
  expect(typeof value, `${path}: a JSON type`).to.equal('object')
  if (Array.isArray(value)) {
    value.forEach((item, i) => expectPlainJson(item, `${path}[${i}]`, rowIds))
    return
  }
  const proto = Object.getPrototypeOf(value) as unknown
  expect(
    proto === Object.prototype || proto === null,
    `${path}: a plain object`,
  ).to.equal(true)
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    const at = `${path}.${key}`
    expect(field, `${at}: set (JSON drops undefined)`).to.not.equal(undefined)
    if (rowIds && ID_FIELDS.has(key) && field !== null) {
      expect(field, `${at}: a UUID string`).to.be.a('string').and.match(UUID)
    }
    expectPlainJson(field, at, rowIds)
  }
}

/** `value` with every Date as its ISO string: what JSON.parse gives back. */
function asParsed(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return value.map(asParsed)
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asParsed(v)]))
  return value
}

/** The result is plain JSON data, and JSON.parse(JSON.stringify(result)) gives it back. */
function expectRoundTrip(name: string, result: unknown): void {
  // A posture check's `id` names the check (`general_log`), not a row.
  expectPlainJson(result, name, name !== 'runDoctor')
  const text = JSON.stringify(result)
  expect(JSON.parse(text), `${name} after a JSON round trip`).to.deep.equal(
    asParsed(result),
  )
}

describe('public results survive JSON.stringify and come back the same', () => {
  // A database of its own: rotateAll and the emergency set-up below act on every
  // patient there is, and the chain check tampers with the audit log at the end.
  const own = useOwnDatabase()
  let vault: Vault
  const sessions: Session[] = []
  /** Every public result of the library, by the call that returned it. */
  const results = new Map<string, unknown>()

  async function login(username: string, password: string): Promise<Session> {
    const session = await vault.login(username, password)
    sessions.push(session)
    return session
  }

  before(async function () {
    this.timeout(60_000)
    const db = own.db()
    vault = createVault({
      db,
      recoveryPublicKey: RUN_RECOVERY.publicKey,
      auditKey: TEST_AUDIT_KEY,
      searchKey: TEST_SEARCH_KEY,
      kdfPolicy: TEST_KDF_POLICY,
    })
    const authority = () => ({ admin, recoveryPrivateKey: RUN_RECOVERY.privateKey })
    const ad = await registerTestUser(vault, 'json-admin', ['admin'])
    const admin = await login(ad.username, ad.password)
    const aliceName = `json-alice-${Date.now()}`
    const alicePassword = testPassword()
    results.set(
      'vault.registerUser',
      await vault.registerUser(
        { username: aliceName, displayName: 'Alice (json)', password: alicePassword },
        admin,
      ),
    )
    const alice = await login(aliceName, alicePassword)
    const b = await registerTestUser(vault, 'json-bob')
    const e = await registerTestUser(vault, 'json-erin', ['clinician', 'emergency'])
    const erin = await login(e.username, e.password)
    results.set('vault.findUser', await vault.findUser(aliceName))
    results.set('vault.listUsers', await vault.listUsers())

    const patientId = await alice.createPatient(demoDemographics())
    results.set('session.createPatient', patientId)
    results.set('session.readPatient', await alice.readPatient(patientId))
    const recordId = await alice.addRecord(patientId, {
      kind: 'note',
      occurredOn: '2026-01-02',
      title: 'Seen in clinic',
      body: 'note text',
      code: null,
    })
    results.set('session.addRecord', recordId)
    results.set('session.listRecords', await alice.listRecords(patientId))
    results.set('session.readRecord', await alice.readRecord(patientId, recordId))
    results.set('session.grant', await alice.grant(patientId, b.user.id))
    results.set('session.listAccess', await alice.listAccess(patientId))
    results.set('session.listAccessiblePatients', await alice.listAccessiblePatients())
    results.set('session.rotatePatientKey', await alice.rotatePatientKey(patientId))
    results.set('session.revoke', await alice.revoke(patientId, b.user.id))

    results.set(
      'vault.setUpEmergencyAccess',
      await vault.setUpEmergencyAccess(authority()),
    )
    await vault.grantEmergencyKey(authority(), erin.userId)
    results.set(
      'session.breakGlass',
      await erin.breakGlass(patientId, 'Unconscious in the ED, allergy history needed'),
    )
    results.set(
      'vault.revokeEmergencyKey',
      await vault.revokeEmergencyKey(admin, erin.userId),
    )
    results.set(
      'vault.restorePatientAccess',
      await vault.restorePatientAccess(authority(), patientId, b.user.id),
    )
    results.set(
      'vault.recoverUser',
      await vault.recoverUser(authority(), b.username, testPassword()),
    )
    results.set('vault.rotateAll', await vault.rotateAll(authority()))

    results.set('auditReport', await auditReport(db, { patientId }))
    results.set(
      'auditReport (break-glass first)',
      await auditReport(db, { breakGlassFirst: true }),
    )
    const verified = await verifyAuditChain(db, TEST_AUDIT_KEY)
    results.set('verifyAuditChain (ok)', verified)
    results.set(
      'runDoctor',
      await runDoctor(db, { recoveryPublicKey: RUN_RECOVERY.publicKey }),
    )
    results.set('dbConfigFromEnv', dbConfigFromEnv())

    // Last, since appends refuse a tampered chain: one edited row, and the failure.
    await db('audit_log').where('seq', 3).update({ detail: 'edited' })
    results.set('verifyAuditChain (broken)', await verifyAuditChain(db, TEST_AUDIT_KEY))
  })

  after(() => {
    for (const s of sessions) s.close()
  })

  it('the check itself refuses what JSON would lose or mangle', () => {
    const id = '0190f3a0-0000-7000-8000-000000000000'
    for (const bad of [
      { seq: 1n },
      { mac: Buffer.alloc(2) },
      { reason: undefined },
      { ids: new Set([id]) },
      { at: new Date(Number.NaN) },
      { n: Number.POSITIVE_INFINITY },
      { id: 'ABC' },
      { patientId: Buffer.alloc(16) },
      { patientId: id.toUpperCase() },
    ]) {
      expect(() => expectRoundTrip('bad', bad), Object.keys(bad)[0]).to.throw()
    }
    expectRoundTrip('good', { id, at: new Date(0), n: 1, list: [null, true, 'x'] })
  })

  it('every result is plain JSON data and round-trips through JSON.stringify / JSON.parse', () => {
    expect(results.size).to.equal(25)
    for (const [name, result] of results) expectRoundTrip(name, result)
  })

  it('ids are the same UUID strings everywhere: results, report rows and the ids passed in', () => {
    const patientId = results.get('session.createPatient') as string
    const alice = results.get('vault.registerUser') as { id: string }
    const report = results.get('auditReport') as {
      patientId: string
      actorUserId: string | null
    }[]
    expect(report.length).to.be.at.least(6)
    for (const entry of report) expect(entry.patientId).to.equal(patientId)
    expect(report[0]).to.include({ actorUserId: alice.id })
    expect((results.get('session.readPatient') as { id: string }).id).to.equal(patientId)
    expect(results.get('session.listAccessiblePatients')).to.deep.equal([patientId])
  })

  it('audit seqs are decimal strings; the verified head, stored as JSON, anchors a later run', async () => {
    const verified = results.get('verifyAuditChain (ok)') as {
      ok: true
      rows: number
      lastSeq: string
      head: { lastSeq: string; lastMac: string }
    }
    expect(verified.ok).to.equal(true)
    expect(verified.lastSeq).to.equal(String(verified.rows))
    expect(verified.head.lastMac).to.match(/^[0-9a-f]{64}$/)
    const report = results.get('auditReport (break-glass first)') as { seq: string }[]
    for (const entry of report) expect(entry.seq).to.match(/^[1-9][0-9]*$/)

    const broken = results.get('verifyAuditChain (broken)')
    expect(broken).to.deep.include({
      ok: false,
      problem: 'mac',
      firstBadSeq: '3',
      rows: 2,
    })
    // The head recorded as JSON is accepted back as the anchor (the chain is still
    // broken at row 3, which is what the run reports).
    const anchor = JSON.parse(JSON.stringify(verified.head)) as typeof verified.head
    expect(await verifyAuditChain(own.db(), TEST_AUDIT_KEY, { anchor })).to.deep.include({
      ok: false,
      firstBadSeq: '3',
    })
  })

  it('key material stays in Buffers, which are not meant for JSON', () => {
    const pair = generateRecoveryKeyPair()
    expect(Buffer.isBuffer(pair.publicKey) && Buffer.isBuffer(pair.privateKey)).to.equal(
      true,
    )
    const keys = deploymentKeysFromEnv({
      EMR_VAULT_AUDIT_KEY: TEST_AUDIT_KEY.toString('base64'),
      EMR_VAULT_RECOVERY_PUBLIC_KEY: pair.publicKey.toString('base64'),
      EMR_VAULT_SEARCH_KEY: randomBytes(32).toString('base64'),
    })
    expect(
      Buffer.isBuffer(keys.auditKey) && Buffer.isBuffer(keys.recoveryPublicKey),
    ).to.equal(true)
    expect(worstStatus(results.get('runDoctor') as [])).to.be.oneOf([
      'PASS',
      'WARN',
      'FAIL',
    ])
  })
})
