import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { AccessDeniedError, type RotationResult, type Vault } from 'emr-vault'
import { allergies, medications, type Allergy, type Medication } from './tables.js'

/** What the visit left, for main.ts to print and the project's test to check. */
export interface VisitReport {
  readonly patientId: string
  readonly prescriberId: string
  readonly colleagueId: string
  /** Active medications, two to a page: the pages in order. */
  readonly activePages: readonly (readonly Medication[])[]
  /** The stopped ones, found with the clinic's own query and opened by the repository. */
  readonly stopped: readonly Medication[]
  /** The allergies as the colleague read them while granted. */
  readonly colleagueSaw: readonly Allergy[]
  /** The rotation that the revoke ran. */
  readonly revoke: RotationResult
  /** The error code the colleague got after the revoke. */
  readonly afterRevoke: string
  /** Everything read back by the prescriber after the rotation. */
  readonly medications: readonly Medication[]
  readonly allergies: readonly Allergy[]
}

/** A row id as bytes, for the clinic's own SQL (the tables store ids as BINARY(16)). */
const idBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex')
/** BINARY(16) back to the UUID string the repository takes. */
const idString = (b: Buffer) =>
  b.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')

/**
 * One patient's visit: two clinicians, a patient, medications and allergies,
 * a page of active medications, a dose change, a grant to a colleague, a revoke
 * (which rotates the patient's key) and everything read back afterwards.
 * `tag` makes the usernames unique on a database used before.
 */
export async function runVisit(
  vault: Vault,
  db: Knex,
  tag = randomBytes(3).toString('hex'),
): Promise<VisitReport> {
  const passwords = {
    amara: randomBytes(18).toString('base64url'),
    tomas: randomBytes(18).toString('base64url'),
  }
  const amaraUser = await vault.registerUser({
    username: `amara-${tag}`,
    displayName: 'Dr Amara Nwosu',
    password: passwords.amara,
    roles: ['clinician'],
  })
  const tomasUser = await vault.registerUser({
    username: `tomas-${tag}`,
    displayName: 'Dr Tomás Ruiz',
    password: passwords.tomas,
    roles: ['clinician'],
  })
  const amara = await vault.login(`amara-${tag}`, passwords.amara)
  const tomas = await vault.login(`tomas-${tag}`, passwords.tomas)
  try {
    const patientId = await amara.createPatient({
      fullName: 'Grace Wanjiru Kamau',
      dateOfBirth: '1961-07-30',
    })

    const meds = amara.table(medications)
    const prescribed = { prescriberId: amara.userId, status: 'active' } as const
    const metformin = await meds.insert(patientId, {
      drug: 'Metformin',
      dose: '500',
      doseUnit: 'mg',
      route: 'oral',
      startedOn: '2024-03-01',
      instructions: 'Twice daily with meals',
      ...prescribed,
    })
    const lisinopril = await meds.insert(patientId, {
      drug: 'Lisinopril',
      dose: '10',
      doseUnit: 'mg',
      route: 'oral',
      startedOn: '2024-03-01',
      ...prescribed,
    })
    await meds.insert(patientId, {
      drug: 'Salbutamol',
      dose: '0.1',
      doseUnit: 'mg',
      route: 'inhaled',
      startedOn: '2025-01-15',
      instructions: 'Two puffs as needed',
      ...prescribed,
    })
    await meds.insert(patientId, {
      drug: 'Amoxicillin',
      dose: '500',
      doseUnit: 'mg',
      route: 'oral',
      startedOn: '2025-11-20',
      stoppedOn: '2025-11-22',
      prescriberId: amara.userId,
      status: 'stopped',
    })

    const allergyRows = amara.table(allergies)
    await allergyRows.insert(patientId, {
      allergen: 'Amoxicillin',
      reaction: 'Urticaria over trunk and arms',
      severity: 'moderate',
      recordedAt: new Date('2025-11-22T09:30:00.000Z'),
      detail: {
        category: 'medication',
        manifestations: ['hives', 'itching'],
        snomedCode: '294505008',
      },
      recordedBy: amara.userId,
      status: 'active',
    })
    await allergyRows.insert(patientId, {
      allergen: 'Peanut',
      reaction: 'Lip swelling',
      severity: 'severe',
      recordedAt: new Date('2019-05-04T16:00:00.000Z'),
      recordedBy: amara.userId,
      status: 'active',
    })

    // A page of active medications, two at a time, oldest first.
    const activePages: Medication[][] = []
    let after: string | null = null
    do {
      const page = await meds.list(patientId, {
        where: { status: 'active' },
        limit: 2,
        after,
      })
      activePages.push(page.rows)
      after = page.next
    } while (after !== null)

    // The clinic's own query on plain columns; the repository opens what it found.
    const found = (await db('medications')
      .select('id')
      .where({ patient_id: idBytes(patientId), status: 'stopped' })) as { id: Buffer }[]
    const stopped = await meds.open(
      patientId,
      found.map((r) => idString(r.id)),
    )

    await meds.update(patientId, lisinopril, {
      dose: '20',
      instructions: 'Dose raised: BP 150/95',
    })
    await meds.update(patientId, metformin, { status: 'on-hold' })

    await amara.grant(patientId, tomasUser.id)
    const colleagueSaw = (await tomas.table(allergies).list(patientId)).rows

    const revoke = await amara.revoke(patientId, tomasUser.id)
    const afterRevoke = await tomas
      .table(medications)
      .list(patientId)
      .then(
        () => 'read',
        (e: unknown) => (e instanceof AccessDeniedError ? e.code : String(e)),
      )

    return {
      patientId,
      prescriberId: amaraUser.id,
      colleagueId: tomasUser.id,
      activePages,
      stopped,
      colleagueSaw,
      revoke,
      afterRevoke,
      medications: (await meds.list(patientId)).rows,
      allergies: (
        await allergyRows.list(patientId, { orderBy: 'createdAt', direction: 'desc' })
      ).rows,
    }
  } finally {
    amara.close()
    tomas.close()
  }
}
