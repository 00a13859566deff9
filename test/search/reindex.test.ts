import { spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { Knex } from 'knex'
import { expect } from '../support/chai.js'
import { rowIdFromString, rowIdToString } from '../../src/db/row-id.js'
import { AccessDeniedError, ConfigurationError } from '../../src/errors/index.js'
import { PATIENTS } from '../../src/schema/chart-tables.js'
import { deriveTableIndexKeys, indexColumnValues } from '../../src/schema/index-values.js'
import { searchKeyFingerprint } from '../../src/services/search-reindex.service.js'
import type { Session } from '../../src/services/session.js'
import type { Vault } from '../../src/services/vault.js'
import { exited } from '../cli/run-cli.js'
import { expectAuditChainVerifies } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import {
  registerTestUser,
  RUN_RECOVERY,
  TEST_AUDIT_KEY,
  TEST_SEARCH_KEY,
  testVault,
} from '../support/vault-fixture.js'

/**
 * Rotating the search key: the indexes rebuilt under the new key by a process
 * killed with SIGKILL at random moments and run again, searches working under
 * either key meanwhile; then the upgrade case (rows with no index values, as
 * migration 0007 leaves them) stopped by a signal and resumed; a national id
 * held by two patients reported, not fatal; and who may run it.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = fileURLToPath(new URL('../support/reindex-child.ts', import.meta.url))
const COUNT = 400
const KILLS = 2

const nationalIdOf = (i: number) => `RX ${String(i).padStart(6, '0')}`

describe('search key rotation: every index rebuilt, resumably', function () {
  this.timeout(600_000)
  const own = useOwnDatabase({ env: true })
  let db: Knex
  let vault: Vault
  let admin: { username: string; password: string }
  let adminSession: Session
  let ids: string[]
  const newKey = randomBytes(32)

  before(async () => {
    db = own.db()
    ;({ vault } = testVault({ db }))
    admin = await registerTestUser(vault, 'reindex-admin', ['admin', 'clinician'])
    adminSession = await vault.login(admin.username, admin.password)
    ids = []
    let next = 0
    const worker = async () => {
      while (next < COUNT) {
        const i = next++
        ids[i] = await adminSession.createPatient({
          fullName: `Rotation Patient ${i}`,
          dateOfBirth: '1975-05-05',
          nationalId: nationalIdOf(i),
        })
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
  })
  after(() => adminSession?.close())

  /** The stored index columns of every patient, by id. */
  const stored = async () => {
    const rows = (await db('patients').select(
      'id',
      ...PATIENTS.indexes.map((i) => i.column),
    )) as Record<string, unknown>[]
    return new Map(rows.map((r) => [rowIdToString(r['id'] as Buffer), r]))
  }
  const expectedUnder = (key: Buffer, i: number) =>
    indexColumnValues(PATIENTS.indexes, deriveTableIndexKeys(key, PATIENTS), {
      fullName: `Rotation Patient ${i}`,
      dateOfBirth: '1975-05-05',
      nationalId: nationalIdOf(i),
    })
  const reindexed = async () =>
    new Set(
      (
        (await db('audit_log')
          .select('patient_id')
          .where({ action: 'search.reindex', outcome: 'success' })) as {
          patient_id: Buffer
        }[]
      ).map((r) => rowIdToString(r.patient_id)),
    )

  /** After a kill: a patient is under the new key exactly when its audit row says so. */
  const expectConsistent = async () => {
    const rows = await stored()
    const done = await reindexed()
    for (const [i, id] of ids.entries()) {
      const want = expectedUnder(done.has(id) ? newKey : TEST_SEARCH_KEY, i)
      expect(rows.get(id), `patient ${i}`).to.deep.equal({
        id: rowIdFromString(id, 'p'),
        ...want,
      })
    }
    const [run] = await db('emr_vault_search_index_runs')
      .select('patients')
      .where({ key_fingerprint: searchKeyFingerprint(newKey) })
    expect(run?.patients ?? 0).to.equal(done.size)
    return done.size
  }

  const runChild = () =>
    spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
  const input = JSON.stringify({
    auditKey: TEST_AUDIT_KEY.toString('base64'),
    searchKey: newKey.toString('base64'),
    previousSearchKey: TEST_SEARCH_KEY.toString('base64'),
    recoveryPublicKey: RUN_RECOVERY.publicKey.toString('base64'),
    recoveryPrivateKey: RUN_RECOVERY.privateKey.toString('base64'),
  })

  it(`${COUNT} patients: killed ${KILLS} times, run again to the end; searches find every patient under either key throughout`, async () => {
    const { vault: rotating } = testVault({
      db,
      searchKey: newKey,
      previousSearchKey: TEST_SEARCH_KEY,
      searchLimits: { perSession: 1000, perUser: 1000 },
    })
    const searcher = await rotating.login(admin.username, admin.password)
    const finds = async (i: number) =>
      (
        await searcher.searchPatients('byNationalId', { nationalId: nationalIdOf(i) })
      ).rows.map((p) => p.id)
    try {
      let done = 0
      for (let kill = 0; kill < KILLS; kill++) {
        const child = runChild()
        const exit = exited(child)
        child.stdin.end(JSON.stringify({ ...JSON.parse(input), ...admin }))
        const at = done + randomInt(20, 120)
        await new Promise<void>((resolve) => {
          child.stdout.on('data', (d: Buffer) => {
            const counts = [...d.toString().matchAll(/done (\d+)/g)]
            if (counts.some((m) => Number(m[1]) + done >= at)) resolve()
          })
          void exit.then(() => resolve())
        })
        child.kill('SIGKILL')
        const result = await exit
        expect(result.signal, result.stderr).to.equal('SIGKILL')
        const now = await expectConsistent()
        expect(now).to.be.above(done)
        expect(now).to.be.below(COUNT)
        done = now
        // Mid-rotation: one indexed under the new key, one still under the old.
        const rows = await stored()
        const doneSet = await reindexed()
        const oldOne = ids.findIndex((id) => !doneSet.has(id))
        const newOne = ids.findIndex((id) => doneSet.has(id))
        expect(rows.size).to.equal(COUNT)
        expect(await finds(oldOne)).to.deep.equal([ids[oldOne]])
        expect(await finds(newOne)).to.deep.equal([ids[newOne]])
      }
      const last = runChild()
      const exit = exited(last)
      last.stdin.end(JSON.stringify({ ...JSON.parse(input), ...admin }))
      const result = await exit
      expect(
        [result.code, result.stdout.trim().split('\n').at(-1)],
        result.stderr,
      ).to.deep.equal([0, 'finished'])
      expect(await expectConsistent()).to.equal(COUNT)
      const rows = await stored()
      for (const [i, id] of ids.entries()) {
        expect(rows.get(id)).to.deep.include(expectedUnder(newKey, i))
      }
      // The new key alone finds them all (a sample; the columns above are all of them).
      const { vault: rotated } = testVault({ db, searchKey: newKey })
      const after = await rotated.login(admin.username, admin.password)
      try {
        for (const i of [0, 1, COUNT - 1]) {
          const found = await after.searchPatients('byNationalId', {
            nationalId: nationalIdOf(i),
          })
          expect(found.rows.map((p) => p.id)).to.deep.equal([ids[i]])
        }
      } finally {
        after.close()
      }
      // A second run under the same key has nothing to do.
      const again = await rotated.rebuildSearchIndexes({
        admin: adminSession,
        recoveryPrivateKey: RUN_RECOVERY.privateKey,
      })
      expect([again.patients, again.finished, again.remaining]).to.deep.equal([
        0,
        true,
        0,
      ])
      await expectAuditChainVerifies(db)
    } finally {
      searcher.close()
    }
  })

  it('after the upgrade (no index values): stopped by a signal, resumed, a duplicate national id reported', async () => {
    const third = randomBytes(32)
    const { vault: upgraded } = testVault({ db, searchKey: third })
    // The first patient's national id given to another as well: possible only
    // while the first has no index value, as after migration 0007.
    await db('patients').update(
      Object.fromEntries(PATIENTS.indexes.map((i) => [i.column, null])),
    )
    const twin = await adminSession.createPatient({
      fullName: 'Twin Of Zero',
      dateOfBirth: '1975-05-05',
      nationalId: nationalIdOf(0),
    })
    await db('patients')
      .update(Object.fromEntries(PATIENTS.indexes.map((i) => [i.column, null])))
      .where('id', rowIdFromString(twin, 'p'))
    const searcher = await upgraded.login(admin.username, admin.password)
    try {
      expect(
        (await searcher.searchPatients('byNationalId', { nationalId: nationalIdOf(5) }))
          .rows,
      ).to.deep.equal([])
      const controller = new AbortController()
      const authority = {
        admin: adminSession,
        recoveryPrivateKey: RUN_RECOVERY.privateKey,
      }
      const first = await upgraded.rebuildSearchIndexes(authority, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.patients === 50) controller.abort()
        },
      })
      expect([first.patients, first.finished, first.remaining]).to.deep.equal([
        50,
        false,
        COUNT + 1 - 50,
      ])
      const rest = await upgraded.rebuildSearchIndexes(authority)
      expect([rest.patients, rest.finished, rest.remaining]).to.deep.equal([
        COUNT + 1 - 50,
        true,
        0,
      ])
      const conflicts = [...first.conflicts, ...rest.conflicts]
      expect(conflicts).to.have.length(1)
      expect(conflicts[0]!.index).to.equal('patients.byNationalId')
      expect([ids[0], twin]).to.include(conflicts[0]!.patientId)
      // The one that kept its value is found; the other is found by name.
      const found = await searcher.searchPatients('byNationalId', {
        nationalId: nationalIdOf(0),
      })
      expect(found.rows.map((p) => p.id)).to.deep.equal(
        [ids[0], twin].filter((id) => id !== conflicts[0]!.patientId),
      )
      expect(
        (
          await searcher.searchPatients('byName', { fullName: 'rotation patient 5' })
        ).rows.map((p) => p.id),
      ).to.deep.equal([ids[5]])
    } finally {
      searcher.close()
    }
  })

  it('needs an admin and the recovery private key', async () => {
    const clerk = await registerTestUser(vault, 'reindex-clerk')
    const session = await vault.login(clerk.username, clerk.password)
    try {
      const refused = await vault
        .rebuildSearchIndexes({
          admin: session,
          recoveryPrivateKey: RUN_RECOVERY.privateKey,
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(refused).to.be.instanceOf(AccessDeniedError)
      const wrongKey = await vault
        .rebuildSearchIndexes({
          admin: adminSession,
          recoveryPrivateKey: randomBytes(32),
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(wrongKey).to.be.instanceOf(ConfigurationError)
    } finally {
      session.close()
    }
  })
})
