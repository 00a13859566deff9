import { randomBytes } from 'node:crypto'
import type mysql from 'mysql2/promise'
import { mysqlAesEcbDecrypt } from '../../src/crypto/mysql-aes-ecb.js'
import {
  DatabaseError,
  IntegrityError,
  LegacyKeyError,
  ValidationError,
} from '../../src/errors/index.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { plain } from '../../src/schema/plain-columns.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { canaryKey, containsKey, errorSurface } from '../foundation/leak-probe.js'
import { expect } from '../support/chai.js'
import {
  createMedicationsTable,
  legacyConnection,
  medications as conversionTable,
  rowValues,
  writeLegacyRows,
} from '../support/conversion-fixture.js'
import { useOwnDatabase } from '../support/own-database.js'
import { findSecrets, secretsOf, type NamedSecret } from '../support/secrets.js'
import { preparedEvidence, statementText } from '../support/statement-history.js'
import { observerConnection } from '../support/test-env.js'
import { registerTestUser, RUN_RECOVERY, testVault } from '../support/vault-fixture.js'

/**
 * The declared-table paths (repository and both conversions) as the chart's are
 * checked in test/services/server-channels.test.ts and
 * test/foundation/prepared-statement-path.test.ts: after each act, nothing of a
 * patient subkey, its HMAC pads, the patient key, the recovery private key, the
 * legacy key or a value written is in performance_schema statement text (read
 * from another connection) or in any error the act raised (message, stack,
 * fields, cause).
 */

const notes = defineTable({
  name: 'review_notes',
  encrypted: {
    body: encrypted.text({ maxBytes: 400 }),
    takenAt: encrypted.dateTime({ nullable: true }),
  },
  // Declared wider than the database column below: a value that passes the
  // declaration fails in SQL, with the keys and PHI bound to that statement.
  plain: { label: plain.text({ maxLength: 100 }) },
})

describe('declared tables and conversions leave no key, legacy key or value in statement history or errors', function () {
  this.timeout(120_000)
  const own = useOwnDatabase()
  let vault: Vault
  let observer: mysql.Connection
  let legacy: mysql.Connection
  let clinician: Session
  let admin: Session
  let c: { username: string; password: string }
  let patientId: string
  const secrets: NamedSecret[] = []
  const phi: string[] = []

  before(async () => {
    await createEncryptedTable(own.db(), notes)
    await own.db().raw('ALTER TABLE review_notes MODIFY label VARCHAR(4) NOT NULL')
    ;({ vault } = testVault({ db: own.db(), tables: [notes] }))
    c = await registerTestUser(vault, 'lk-clinician')
    const a = await registerTestUser(vault, 'lk-admin', ['admin'])
    clinician = await vault.login(c.username, c.password)
    admin = await vault.login(a.username, a.password)
    patientId = await clinician.createPatient({
      fullName: 'Leakprobe Patient',
      dateOfBirth: '1970-01-01',
    })
    observer = await observerConnection()
    legacy = await legacyConnection(own.name())
    await refreshSecrets()
  })
  after(async () => {
    clinician?.close()
    admin?.close()
    await observer?.end()
    await legacy?.end()
  })

  async function refreshSecrets() {
    secrets.length = 0
    secrets.push(...(await secretsOf(own.db(), c.username, c.password)))
    secrets.push({ name: 'recovery private key', bytes: RUN_RECOVERY.privateKey })
  }

  const value = (tag: string) => {
    const v = `PHI-${tag}-${randomBytes(8).toString('hex')}`
    phi.push(v)
    return v
  }

  /**
   * The ASCII part unique to each fixture value (its random hex): statementText
   * reads SQL_TEXT as latin1, so the values' non-ASCII characters would not match.
   */
  function pushValues(values: readonly { drug: string; note: string }[]) {
    for (const v of values)
      for (const text of [v.drug, v.note]) phi.push(/[0-9a-f]{12}/.exec(text)![0])
  }

  /**
   * The fixture writes as the old application did, through the text protocol:
   * its statements, values and legacy key included, are in the legacy
   * connection's history. Pushed out (10 statements per thread) before looking.
   */
  async function forgetLegacyWrites() {
    for (let i = 0; i < 12; i++) await legacy.query('SELECT 1')
    // MySQL also keeps one sample text per statement digest, for up to 60 s or
    // until a slower statement of the same digest replaces it: the old
    // application's INSERTs of earlier suites or of this one could still be the
    // sample (seen in a full run, not alone). Forget them too.
    await observer
      .query('TRUNCATE TABLE performance_schema.events_statements_summary_by_digest')
      .catch(() => undefined)
  }

  async function expectClean(step: string, marker: string, extra: NamedSecret[] = []) {
    const text = await statementText(observer)
    expect(text.toString('latin1'), `${step}: its statements are recorded`).to.include(
      await preparedEvidence(observer, marker),
    )
    expect(findSecrets(text, [...secrets, ...extra]), step).to.deep.equal([])
    for (const v of phi)
      expect(text.includes(Buffer.from(v)), `${step}: ${v}`).to.equal(false)
  }

  function expectCleanError(step: string, err: unknown, extra: NamedSecret[] = []) {
    const surface = errorSurface(err)
    const haystack = Buffer.from(surface, 'latin1')
    expect(findSecrets(haystack, [...secrets, ...extra]), step).to.deep.equal([])
    for (const s of [...secrets, ...extra])
      expect(containsKey(surface, s.bytes), `${step}: ${s.name}`).to.equal(false)
    for (const v of phi) expect(surface.includes(v), `${step}: ${v}`).to.equal(false)
  }

  it('insert, get, list, open and update on an application table', async () => {
    const repo = clinician.table(notes)
    const id = await repo.insert(patientId, {
      body: value('insert'),
      takenAt: new Date(),
      label: 'ok',
    })
    await expectClean('insert', 'review_notes')
    await repo.get(patientId, id)
    await expectClean('get', 'AES_DECRYPT')
    const page = await repo.list(patientId, { where: { label: 'ok' }, limit: 1 })
    expect(page.rows).to.have.length(1)
    await expectClean('list', 'AES_DECRYPT')
    await repo.open(patientId, [id])
    await expectClean('open', 'AES_DECRYPT')
    await repo.update(patientId, id, { body: value('update') })
    await expectClean('update', 'review_notes')
  })

  it('a statement that fails in SQL (insert and update) carries no key or value in its error', async () => {
    const repo = clinician.table(notes)
    const tooLong = 'label-longer-than-the-column'
    const insertErr = await repo
      .insert(patientId, { body: value('failing insert'), label: tooLong })
      .then(
        () => expect.fail('the insert should fail'),
        (e: unknown) => e,
      )
    expect(insertErr).to.be.instanceOf(DatabaseError)
    expectCleanError('failing insert', insertErr)
    await expectClean('failing insert', 'review_notes')

    const id = await repo.insert(patientId, { body: value('row'), label: 'ok' })
    const updateErr = await repo
      .update(patientId, id, { body: value('failing update'), label: tooLong })
      .then(
        () => expect.fail('the update should fail'),
        (e: unknown) => e,
      )
    expect(updateErr).to.be.instanceOf(DatabaseError)
    expectCleanError('failing update', updateErr)
  })

  it('a tampered envelope is an IntegrityError naming table, column and row only', async () => {
    const repo = clinician.table(notes)
    const a = await repo.insert(patientId, { body: value('a'), label: 'a' })
    const b = await repo.insert(patientId, { body: value('b'), label: 'b' })
    const idOf = (s: string) => Buffer.from(s.replace(/-/g, ''), 'hex')
    await own
      .db()
      .raw(
        'UPDATE review_notes t JOIN review_notes s ON s.id = ? SET t.body_enc = s.body_enc WHERE t.id = ?',
        [idOf(a), idOf(b)],
      )
    const err = await repo.get(patientId, b).then(
      () => expect.fail('moved envelope should not open'),
      (e: unknown) => e,
    )
    expect(err).to.be.instanceOf(IntegrityError)
    expectCleanError('tampered get', err)
    await expect(repo.list(patientId)).to.be.rejectedWith(IntegrityError)
    await own
      .db()('review_notes')
      .where({ id: idOf(b) })
      .delete()
  })

  it('plaintext conversion: the subkeys and the converted values stay out of history and errors', async () => {
    const table = 'review_conv_pt'
    await createMedicationsTable(own.db(), table)
    const values = rowValues(patientId, 3, table)
    pushValues(values)
    await writeLegacyRows(legacy, table, values, { tableKey: Buffer.from('unused') })
    await forgetLegacyWrites()
    await refreshSecrets()
    const authority = { admin, recoveryPrivateKey: RUN_RECOVERY.privateKey }
    const result = await vault.convertPlaintextColumn(authority, conversionTable(table), {
      field: 'drug',
    })
    expect(result.rows).to.equal(3)
    await expectClean('convert plaintext', table)

    // A value the field refuses: the error names the row and the rule, not the value.
    const [bad] = rowValues(patientId, 1, table)
    // Over the field's 200 bytes, within the column's 200 characters.
    const long = `${bad!.drug} ${'✓'.repeat(100)}`
    pushValues([bad!])
    await writeLegacyRows(legacy, table, [{ ...bad!, drug: long }], {
      tableKey: Buffer.from('unused'),
    })
    await forgetLegacyWrites()
    const err = await vault
      .convertPlaintextColumn(authority, conversionTable(table), { field: 'drug' })
      .then(
        () => expect.fail('a value too long for the field should stop the run'),
        (e: unknown) => e,
      )
    expect(err).to.be.instanceOf(ValidationError)
    expectCleanError('convert plaintext, refused value', err)
  })

  it('legacy conversion: the legacy key, the subkeys and the values stay out of history and errors', async () => {
    const table = 'review_conv_lg'
    await createMedicationsTable(own.db(), table)
    const legacyKey = canaryKey()
    const legacySecret = { name: 'legacy key', bytes: legacyKey }
    const values = rowValues(patientId, 3, table)
    pushValues(values)
    await writeLegacyRows(legacy, table, values, { tableKey: legacyKey })
    // Control: the old application's text-protocol statements do show the key
    // and the values, so the searches below can find them.
    const before = await statementText(observer)
    expect(findSecrets(before, [legacySecret])).to.deep.equal(['legacy key'])
    expect(before.includes(Buffer.from(phi.at(-1)!))).to.equal(true)
    await forgetLegacyWrites()
    await refreshSecrets()
    const authority = { admin, recoveryPrivateKey: RUN_RECOVERY.privateKey }

    const wrong = canaryKey()
    const wrongErr = await vault
      .convertLegacyColumn(authority, conversionTable(table), {
        field: 'note',
        from: 'note_legacy',
        key: wrong,
      })
      .then(
        () => expect.fail('a wrong legacy key should stop the run'),
        (e: unknown) => e,
      )
    expect(wrongErr).to.be.instanceOf(LegacyKeyError)
    expectCleanError('legacy, wrong key', wrongErr, [
      legacySecret,
      { name: 'wrong legacy key', bytes: wrong },
    ])

    const result = await vault.convertLegacyColumn(authority, conversionTable(table), {
      field: 'note',
      from: 'note_legacy',
      key: legacyKey,
    })
    expect(result.rows).to.equal(3)
    await expectClean('convert legacy', table, [legacySecret])
    // The caller's key is the caller's: the service wiped only its own copies.
    expect(legacyKey.equals(Buffer.alloc(32))).to.equal(false)
  })

  it("the legacy decrypt agrees with the server's AES_DECRYPT under wrong keys too (NULL or the same garbage)", async () => {
    let garbage = 0
    for (let i = 0; i < 400; i++) {
      const key = randomBytes(1 + (i % 40))
      const wrong = randomBytes(1 + ((i * 7) % 40))
      const text = randomBytes(i % 50)
      const [[row]] = (await legacy.query(
        'SELECT AES_ENCRYPT(?, ?) AS c, AES_DECRYPT(AES_ENCRYPT(?, ?), ?) AS d',
        [text, key, text, key, wrong],
      )) as [{ c: Buffer; d: Buffer | null }[], unknown]
      const mine = mysqlAesEcbDecrypt(row!.c, wrong)
      expect(mine, `case ${i}`).to.deep.equal(row!.d)
      if (mine !== null) garbage++
      expect(mysqlAesEcbDecrypt(row!.c, key), `case ${i}, right key`).to.deep.equal(text)
    }
    // About 1 in 256 wrong keys unpad: the comparison covered NULL, not only garbage.
    expect(garbage).to.be.lessThan(20)
  })
})
