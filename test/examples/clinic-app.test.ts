import { ValidationError } from '../../src/errors/index.js'
import { describeTableDrift } from '../../src/schema/table-drift.js'
import { listCatalog } from '../../src/schema/catalog.js'
import { rowIdFromString } from '../../src/db/row-id.js'
import { runVisit } from '../../examples/clinic-app/src/clinic.js'
import {
  migrateClinic,
  migrationKnex,
} from '../../examples/clinic-app/src/migrations/index.js'
import {
  allergies,
  CLINIC_TABLES,
  medications,
} from '../../examples/clinic-app/src/tables.js'
import { expect } from '../support/chai.js'
import { expectKeyedConsistently } from '../support/lifecycle-checks.js'
import { useOwnDatabase } from '../support/own-database.js'
import { testDbConfig } from '../support/test-env.js'
import { registerTestUser, RUN_RECOVERY, testVault } from '../support/vault-fixture.js'

/**
 * The example application (examples/clinic-app), run as it is: its own
 * migration beside emr-vault's, then its visit script. `emr-vault` resolves to
 * this repository's sources (tsconfig paths); the package smoke test runs the
 * same files against the packed tarball.
 */
describe('examples/clinic-app', () => {
  const own = useOwnDatabase()
  const config = () => ({ ...testDbConfig(), database: own.name() })

  before(async function () {
    this.timeout(60_000)
    expect(await migrateClinic(own.db(), config())).to.deep.equal([
      '20261202120000_clinic_tables',
    ])
  })

  it('migrates tables that match their declarations, catalogued for the command line', async () => {
    for (const decl of CLINIC_TABLES) {
      expect(await describeTableDrift(own.db(), decl), decl.name).to.deep.equal([])
    }
    const catalog = await listCatalog(own.db())
    expect(catalog.find((e) => e.table === 'medications')).to.deep.equal({
      table: 'medications',
      patientColumn: 'patient_id',
      columns: [
        'drug_enc',
        'dose_enc',
        'dose_unit_enc',
        'route_enc',
        'started_on_enc',
        'stopped_on_enc',
        'instructions_enc',
      ],
    })
    expect(catalog.map((e) => e.table)).to.include('allergies')
    // Again: nothing to do.
    expect(await migrateClinic(own.db(), config())).to.deep.equal([])
  })

  it('runs the visit: pages, own query, update, grant, revoke, everything read back exactly', async function () {
    this.timeout(30_000)
    const { vault } = testVault({ db: own.db(), tables: CLINIC_TABLES })
    const visit = await runVisit(vault, own.db())

    const drugs = (rows: readonly { drug: string }[]) => rows.map((r) => r.drug)
    expect(visit.activePages.map(drugs)).to.deep.equal([
      ['Metformin', 'Lisinopril'],
      ['Salbutamol'],
    ])
    expect(visit.stopped).to.have.length(1)
    expect(visit.stopped[0]).to.deep.include({
      drug: 'Amoxicillin',
      startedOn: '2025-11-20',
      stoppedOn: '2025-11-22',
      instructions: null,
      status: 'stopped',
    })
    expect(visit.colleagueSaw.map((a) => a.allergen)).to.deep.equal([
      'Amoxicillin',
      'Peanut',
    ])
    expect(visit.revoke).to.deep.equal({ fromVersion: 1, toVersion: 2, rows: 7 })
    expect(visit.afterRevoke).to.equal('ACCESS_DENIED')

    const byDrug = new Map(visit.medications.map((m) => [m.drug, m]))
    expect(byDrug.get('Lisinopril')).to.deep.include({
      dose: '20',
      doseUnit: 'mg',
      route: 'oral',
      startedOn: '2024-03-01',
      stoppedOn: null,
      instructions: 'Dose raised: BP 150/95',
      prescriberId: visit.prescriberId,
      status: 'active',
      patientId: visit.patientId,
    })
    expect(byDrug.get('Metformin')).to.deep.include({ dose: '500', status: 'on-hold' })
    expect(byDrug.get('Salbutamol')).to.deep.include({ dose: '0.1', route: 'inhaled' })
    expect(visit.allergies.map((a) => a.allergen)).to.deep.equal([
      'Peanut',
      'Amoxicillin',
    ])
    expect(visit.allergies[1]).to.deep.include({
      reaction: 'Urticaria over trunk and arms',
      severity: 'moderate',
      recordedAt: new Date('2025-11-22T09:30:00.000Z'),
      detail: {
        category: 'medication',
        manifestations: ['hives', 'itching'],
        snomedCode: '294505008',
      },
      recordedBy: visit.prescriberId,
    })
    expect(visit.allergies[0]!.detail).to.equal(null)

    // Every envelope of the patient, the clinic's tables included, is under v2 now.
    const pid = rowIdFromString(visit.patientId, 'patientId')
    expect(await expectKeyedConsistently(own.db(), RUN_RECOVERY, pid)).to.equal(2)
    // What the table itself holds: the plain columns, and no drug name.
    const raw = await own.db()('medications').where({ patient_id: pid })
    expect(raw.map((r) => r.status).sort()).to.deep.equal([
      'active',
      'active',
      'on-hold',
      'stopped',
    ])
    const dump = JSON.stringify(raw.map((r) => Object.values(r).map(String)))
    for (const drug of ['Metformin', 'Lisinopril', 'Salbutamol', 'Amoxicillin']) {
      expect(dump).to.not.include(drug)
    }
  })

  it('refuses a value its declaration does not allow, and writes nothing', async () => {
    const { vault } = testVault({ db: own.db(), tables: CLINIC_TABLES })
    const u = await registerTestUser(vault, 'clinic-bad', ['clinician'])
    const session = await vault.login(u.username, u.password)
    try {
      const patientId = await session.createPatient({
        fullName: 'Test Patient',
        dateOfBirth: '1990-01-01',
      })
      const good = {
        allergen: 'Latex',
        reaction: 'Rash',
        severity: 'mild',
        recordedAt: new Date(),
        recordedBy: session.userId,
        status: 'active',
      } as const
      const attempts = [
        { ...good, severity: 'fatal' },
        { ...good, detail: { category: 'food', manifestations: 'rash' } },
        { ...good, recordedAt: '2025-01-01' },
      ]
      for (const bad of attempts) {
        // The types refuse these too; an application in plain JavaScript gets the error.
        await expect(
          session.table(allergies).insert(patientId, bad as never),
        ).to.be.rejectedWith(ValidationError)
      }
      await expect(
        session.table(medications).insert(patientId, {
          drug: 'Ibuprofen',
          // @ts-expect-error a dose is a decimal string, not a number
          dose: 400,
          doseUnit: 'mg',
          route: 'oral',
          startedOn: '2025-01-01',
          prescriberId: session.userId,
          status: 'active',
        }),
      ).to.be.rejectedWith(ValidationError, /dose/)
      expect((await session.table(allergies).list(patientId)).rows).to.deep.equal([])
      expect((await session.table(medications).list(patientId)).rows).to.deep.equal([])
    } finally {
      session.close()
    }
  })

  it('rolls back its own migration only: tables dropped and forgotten by the catalog', async () => {
    const knex = migrationKnex(config())
    try {
      expect(await knex.migrate.rollback()).to.deep.equal([
        1,
        ['20261202120000_clinic_tables'],
      ])
      expect(await own.db().schema.hasTable('medications')).to.equal(false)
      const tables = (await listCatalog(own.db())).map((e) => e.table)
      expect(tables).to.not.include.members(['medications', 'allergies'])
      expect(tables).to.include.members(['patients', 'clinical_records'])
    } finally {
      await knex.destroy()
    }
    // Back as it was, so the other tests do not depend on the order.
    expect(await migrateClinic(own.db(), config())).to.have.length(1)
  })
})
