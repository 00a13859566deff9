import type { Knex } from 'knex'
import { rowIdFromString } from '../../src/db/row-id.js'
import { IntegrityError } from '../../src/errors/index.js'
import { CATALOG_TABLE } from '../../src/schema/catalog.js'
import { defineTable } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { plain } from '../../src/schema/plain-columns.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import { declaredTablesCheck } from '../../src/services/doctor-declared-tables.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { expect } from '../support/chai.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, testVault } from '../support/vault-fixture.js'

/**
 * What someone who can write the database (not holding a key) can do to an
 * application's declared table: move envelopes, edit the catalog, forge a
 * cursor. Each act either fails with an IntegrityError or changes nothing a
 * read could mistake for a real value.
 */

const spec = (name: string) =>
  defineTable({
    name,
    encrypted: {
      drug: encrypted.text({ maxBytes: 100 }),
      note: encrypted.text({ maxBytes: 100 }),
    },
    plain: { prescriberId: plain.rowId(), label: plain.text({ maxLength: 40 }) },
  })
const meds = spec('wr_meds')
const other = spec('wr_other')

const bytes = (id: string) => rowIdFromString(id, 'id')

describe('declared tables against a database writer', function () {
  this.timeout(120_000)
  const own = useOwnDatabase()
  let app: Vault
  /** A vault with no declarations, as the command line makes one. */
  let cli: Vault
  let alice: Session
  let aliceCli: Session
  let bob: Session
  let p1: string
  let p2: string
  let db: Knex

  before(async () => {
    db = own.db()
    await createEncryptedTable(db, meds)
    await createEncryptedTable(db, other)
    ;({ vault: app } = testVault({ db, tables: [meds, other] }))
    ;({ vault: cli } = testVault({ db }))
    const a = await registerTestUser(app, 'wr-alice')
    const b = await registerTestUser(app, 'wr-bob')
    alice = await app.login(a.username, a.password)
    aliceCli = await cli.login(a.username, a.password)
    bob = await app.login(b.username, b.password)
    p1 = await alice.createPatient({ fullName: 'Writer One', dateOfBirth: '1970-01-01' })
    p2 = await alice.createPatient({ fullName: 'Writer Two', dateOfBirth: '1970-01-01' })
  })
  after(() => {
    alice?.close()
    aliceCli?.close()
    bob?.close()
  })

  const row = (drug: string) => ({
    drug,
    note: `${drug} note`,
    prescriberId: alice.userId,
    label: 'x',
  })

  it('an envelope moved to another row, column, table or patient is an IntegrityError, in get, list and open', async () => {
    const repo = alice.table(meds)
    const a = await repo.insert(p1, row('Aspirin'))
    const b = await repo.insert(p1, row('Brufen'))
    const c = await repo.insert(p2, row('Codeine'))
    const reset = async () => {
      for (const [id, drug] of [
        [a, 'Aspirin'],
        [b, 'Brufen'],
      ] as const)
        await repo.update(p1, id, { drug, note: `${drug} note` })
      await alice.table(meds).update(p2, c, { drug: 'Codeine', note: 'Codeine note' })
    }
    const copy = (column: string, from: string, to: string, toColumn = column) =>
      db.raw(
        `UPDATE wr_meds t JOIN wr_meds s ON s.id = ? SET t.?? = s.?? WHERE t.id = ?`,
        [bytes(from), toColumn, column, bytes(to)],
      )

    await copy('drug_enc', a, b) // another row, same patient
    await expect(repo.get(p1, b)).to.be.rejectedWith(IntegrityError)
    await expect(repo.open(p1, [b])).to.be.rejectedWith(IntegrityError)
    await expect(repo.list(p1)).to.be.rejectedWith(IntegrityError)
    await reset()

    await copy('drug_enc', a, a, 'note_enc') // another column, same row
    await expect(repo.get(p1, a)).to.be.rejectedWith(IntegrityError)
    await reset()

    await copy('drug_enc', a, c) // another patient's row
    await expect(repo.get(p2, c)).to.be.rejectedWith(IntegrityError)
    await reset()

    // The whole row handed to another patient: their list does not show it as theirs.
    await db('wr_meds')
      .where({ id: bytes(a) })
      .update({ patient_id: bytes(p2) })
    await expect(repo.list(p2)).to.be.rejectedWith(IntegrityError)
    await expect(repo.get(p2, a)).to.be.rejectedWith(IntegrityError)
    await db('wr_meds')
      .where({ id: bytes(a) })
      .update({ patient_id: bytes(p1) })

    // The row copied, id and envelopes, into another declared table.
    await db.raw(
      'INSERT INTO wr_other (id, patient_id, drug_enc, note_enc, prescriber_id, label) ' +
        'SELECT id, patient_id, drug_enc, note_enc, prescriber_id, label FROM wr_meds WHERE id = ?',
      [bytes(a)],
    )
    await expect(alice.table(other).get(p1, a)).to.be.rejectedWith(IntegrityError)
    await db('wr_other').delete()
    expect((await repo.get(p1, a)).drug).to.equal('Aspirin')
  })

  it("a forged cursor stays a parameter and never reaches another patient's rows", async () => {
    const repo = alice.table(meds)
    const mine = await repo.insert(p1, { ...row('Mine'), label: 'm' })
    const theirs = await repo.insert(p2, { ...row('Theirs'), label: 'zz' })
    const forge = (value: unknown, id: string) =>
      Buffer.from(JSON.stringify(['label', 'asc', value, id])).toString('base64url')
    for (const value of ["' OR 1=1 -- ", '', 'a']) {
      const page = await repo.list(p1, { orderBy: 'label', after: forge(value, theirs) })
      expect(page.rows.map((r) => r.patientId)).to.satisfy((ids: string[]) =>
        ids.every((id) => id === p1),
      )
      expect(page.rows.map((r) => r.id)).to.not.include(theirs)
    }
    expect((await repo.list(p1, { orderBy: 'label' })).rows.map((r) => r.id)).to.include(
      mine,
    )
  })

  describe('the catalog: what a rotation run without declarations (the command line) walks', () => {
    /**
     * Bob gets a grant and reads; the catalog is edited; Bob's access is revoked
     * from a vault with no declarations. Afterwards the row must still open for
     * Alice under the new key version: a rotation that skipped it would leave it
     * under the retired version, whose seals the revoke deleted.
     */
    async function revokeAfter(edit: () => Promise<unknown>) {
      const pid = await alice.createPatient({
        fullName: 'Writer Catalog',
        dateOfBirth: '1970-01-01',
      })
      const id = await alice.table(meds).insert(pid, row('Catalogued'))
      await alice.grant(pid, bob.userId)
      expect((await bob.table(meds).get(pid, id)).drug).to.equal('Catalogued')
      const saved = await db(CATALOG_TABLE).where({ table_name: 'wr_meds' }).first()
      await edit()
      try {
        const revoke = aliceCli.revoke(pid, bob.userId)
        // Either the revoke refuses to run past a catalog it cannot trust...
        const outcome = await revoke.then(
          () => 'revoked',
          (e: unknown) => e,
        )
        if (outcome !== 'revoked') {
          // A refusal is an IntegrityError that wrote nothing: Bob still reads v1.
          expect(outcome).to.be.instanceOf(IntegrityError)
          expect((await bob.table(meds).get(pid, id)).drug).to.equal('Catalogued')
          return outcome
        }
        // ...or every envelope of the patient is under the new version.
        const [stored] = await db('wr_meds')
          .where({ id: bytes(id) })
          .select('drug_enc')
        const version = (stored.drug_enc as Buffer).readUInt32BE(1)
        expect(version, 'key version of the envelope after the revoke').to.equal(2)
        expect((await alice.table(meds).get(pid, id)).drug).to.equal('Catalogued')
        return outcome
      } finally {
        await db(CATALOG_TABLE).where({ table_name: 'wr_meds' }).delete()
        await db(CATALOG_TABLE).insert(saved)
      }
    }

    it('a catalog entry whose patient column is redirected to another BINARY(16) column', async () => {
      await revokeAfter(() =>
        db(CATALOG_TABLE)
          .where({ table_name: 'wr_meds' })
          .update({ patient_column: 'prescriber_id' }),
      )
    })

    it('the doctor does not PASS a catalog entry whose patient column is not the foreign key to patients', async () => {
      await db(CATALOG_TABLE)
        .where({ table_name: 'wr_meds' })
        .update({ patient_column: 'prescriber_id' })
      try {
        expect((await declaredTablesCheck(db)).status).to.not.equal('PASS')
      } finally {
        await db(CATALOG_TABLE)
          .where({ table_name: 'wr_meds' })
          .update({ patient_column: 'patient_id' })
      }
    })

    it('a catalog entry deleted', async () => {
      await revokeAfter(() => db(CATALOG_TABLE).where({ table_name: 'wr_meds' }).delete())
    })
  })
})
