import { setTimeout as sleep } from 'node:timers/promises'
import { expect } from '../support/chai.js'
import { AccessDeniedError, DatabaseError } from '../../src/errors/index.js'
import { inTransaction } from '../../src/services/transaction.js'
import { observeStatements, selectRows } from '../../src/sql/prepared.js'
import { testDb } from '../support/test-env.js'
import {
  DEMO_DEMOGRAPHICS,
  demoDemographics,
  registerTestUser,
  testVault,
} from '../support/vault-fixture.js'

/**
 * Holds the first statement named `operation` until `release()` (statement observer
 * seam): the transaction running it keeps its locks meanwhile.
 */
function holdFirst(operation: string): { held: Promise<void>; release: () => void } {
  let release!: () => void
  let signal!: () => void
  const held = new Promise<void>((resolve) => (signal = resolve))
  const gate = new Promise<void>((resolve) => (release = resolve))
  let done = false
  observeStatements(async (e) => {
    if (done || e.operation !== operation) return
    done = true
    signal()
    await gate
  })
  return { held, release }
}

/** Holds the first statement that follows one named `operation`, until `release()`. */
function holdAfter(operation: string): { held: Promise<void>; release: () => void } {
  let release!: () => void
  let signal!: () => void
  const held = new Promise<void>((resolve) => (signal = resolve))
  const gate = new Promise<void>((resolve) => (release = resolve))
  let state: 'before' | 'next' | 'done' = 'before'
  observeStatements(async (e) => {
    if (state === 'next') {
      state = 'done'
      signal()
      await gate
    } else if (state === 'before' && e.operation === operation) state = 'next'
  })
  return { held, release }
}

describe('transactions: lost connections and lock order', () => {
  afterEach(() => observeStatements(undefined))

  it('a connection lost inside a transaction surfaces as the failed statement’s DatabaseError, not knex’s ROLLBACK error', async () => {
    const db = testDb()
    observeStatements((e) => {
      observeStatements(undefined)
      e.destroyConnection()
    })
    const err = await inTransaction(db, (trx) =>
      selectRows(trx, trx.select(trx.raw('1 AS one')), 'probe select'),
    ).then(
      () => expect.fail('the statement ran on a destroyed connection'),
      (e: unknown) => e,
    )
    expect(err).to.be.instanceOf(DatabaseError)
    expect((err as DatabaseError).message).to.match(/^probe select failed/)
    // The pool dropped the dead connection: the next transaction works.
    const rows = await inTransaction(db, (trx) =>
      selectRows<{ two: unknown }>(trx, trx.select(trx.raw('2 AS two'))),
    )
    expect(rows.map((r) => Number(r.two))).to.deep.equal([2])
  })

  it('a connection lost at COMMIT is a DatabaseError too (outcome unknown, not retried)', async () => {
    const db = testDb()
    let tries = 0
    const err = await inTransaction(db, async (trx) => {
      tries++
      await selectRows(trx, trx.select(trx.raw('1 AS one')))
      const connection = (await trx.client.acquireConnection()) as { destroy(): void }
      connection.destroy()
    }).then(
      () => expect.fail('COMMIT ran on a destroyed connection'),
      (e: unknown) => e,
    )
    expect(err).to.be.instanceOf(DatabaseError)
    expect((err as DatabaseError).retryable).to.equal(false)
    expect(tries).to.equal(1)
  })

  it('a locking read after a consistent read waits for and reads the latest committed row, first time (MariaDB: innodb_snapshot_isolation OFF)', async () => {
    const db = testDb()
    await db.schema.dropTableIfExists('snapshot_probe')
    await db.schema.createTable('snapshot_probe', (t) => {
      t.integer('id').primary()
      t.integer('v').notNullable()
    })
    try {
      await db('snapshot_probe').insert({ id: 1, v: 0 })
      let tries = 0
      const seen = await inTransaction(db, async (trx) => {
        tries++
        // A consistent read opens this transaction's read view…
        await selectRows(trx, trx('snapshot_probe').select('v'))
        // …another connection changes the row and commits (on every try)…
        await db('snapshot_probe').increment('v', 1).where({ id: 1 })
        // …and the locking read sees that change, as every audited act does
        // with the audit head. With MariaDB's snapshot isolation it failed with
        // ER_CHECKREAD, and a retry met the same race again.
        const rows = await selectRows<{ v: unknown }>(
          trx,
          trx('snapshot_probe').select('v').where({ id: 1 }).forUpdate(),
        )
        return Number(rows[0]?.v)
      })
      expect({ seen, tries }).to.deep.equal({ seen: 1, tries: 1 })
    } finally {
      await db.schema.dropTableIfExists('snapshot_probe')
    }
  })

  it('two users granting the same grantee at once: one creates the grant, the other finds it (no ER_DUP_ENTRY)', async () => {
    const { vault } = testVault()
    const [a, b, c] = await Promise.all(
      ['tx-alice', 'tx-bob', 'tx-carol'].map((n) => registerTestUser(vault, n)),
    )
    const alice = await vault.login(a!.username, a!.password)
    const bob = await vault.login(b!.username, b!.password)
    const carol = await vault.login(c!.username, c!.password)
    try {
      const patientId = await alice.createPatient(demoDemographics())
      await alice.grant(patientId, bob.userId)
      // alice stops just before inserting carol's grant, her checks done; bob
      // grants carol meanwhile, then alice goes on.
      const { held, release } = holdFirst('insert grant')
      const byAlice = alice.grant(patientId, carol.userId)
      await held
      const byBob = bob.grant(patientId, carol.userId)
      await sleep(300)
      release()
      const results = await Promise.allSettled([byAlice, byBob])
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled'])
      const created = results.map(
        (r) => (r as PromiseFulfilledResult<{ created: boolean }>).value.created,
      )
      expect(created).to.deep.equal([true, false])
      expect((await carol.readPatient(patientId)).fullName).to.equal(
        DEMO_DEMOGRAPHICS.fullName,
      )
    } finally {
      alice.close()
      bob.close()
      carol.close()
    }
  })

  it('a revoke locks only the deleted grant: a grant of another patient to the same user does not wait for it', async () => {
    const { vault } = testVault()
    const [a, b, c] = await Promise.all(
      ['tx-rv-alice', 'tx-rv-bob', 'tx-rv-carol'].map((n) => registerTestUser(vault, n)),
    )
    const alice = await vault.login(a!.username, a!.password)
    const bob = await vault.login(b!.username, b!.password)
    const carol = await vault.login(c!.username, c!.password)
    try {
      // Row ids are UUIDv7: carol's patient sorts before alice's, so bob's grant
      // of it goes into the index gap just before his grant of alice's patient.
      const carolsPatient = await carol.createPatient(demoDemographics())
      const alicesPatient = await alice.createPatient(demoDemographics())
      await alice.grant(alicesPatient, bob.userId)
      // alice's revoke of bob stops right after deleting his grant, locks held.
      const { held, release } = holdAfter('delete grant')
      const revoke = alice.revoke(alicesPatient, bob.userId)
      try {
        await held
        const grant = carol.grant(carolsPatient, bob.userId)
        const outcome = await Promise.race([
          grant.then(() => 'granted'),
          sleep(3000).then(() => 'waited for the revoke'),
        ])
        release()
        await grant
        expect(outcome).to.equal('granted')
      } finally {
        release()
        await revoke
      }
      await expect(bob.readPatient(alicesPatient)).to.be.rejectedWith(AccessDeniedError)
      expect((await bob.readPatient(carolsPatient)).fullName).to.equal(
        DEMO_DEMOGRAPHICS.fullName,
      )
    } finally {
      alice.close()
      bob.close()
      carol.close()
    }
  })

  it('two updates of one patient at once run one after the other, without a deadlock and a retry', async () => {
    const { vault } = testVault()
    const a = await registerTestUser(vault, 'tx-upd')
    const alice = await vault.login(a.username, a.password)
    try {
      const patientId = await alice.createPatient(demoDemographics())
      const { held, release } = holdFirst('update patients')
      const updates: string[] = []
      const count = (e: { operation: string }) => {
        if (e.operation === 'update patients') updates.push(e.operation)
      }
      const first = alice.updatePatient(patientId, { phone: 'first' })
      await held
      // From here on count the UPDATE statements (the held one was the first).
      updates.push('update patients')
      observeStatements(count)
      const second = alice.updatePatient(patientId, { phone: 'second' })
      await sleep(300)
      release()
      await Promise.all([first, second])
      observeStatements(undefined)
      // A deadlock would have rolled one back and run its UPDATE again.
      expect(updates).to.have.length(2)
      expect((await alice.readPatient(patientId)).phone).to.equal('second')
    } finally {
      alice.close()
    }
  })
})
