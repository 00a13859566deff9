import { ConfigurationError, NotFoundError } from '../errors/index.js'
import type { Demographics, NewClinicalRecord, Role } from '../services/domain.js'
import type { Vault } from '../services/vault.js'

/**
 * The demo clinic of `emr-vault seed` and `npm run demo`: users, patients and
 * charts, created through the services so that every value is really encrypted.
 * The passwords are published in the documentation: demo data only.
 */
export const DEMO_USERS: {
  username: string
  displayName: string
  password: string
  roles: Role[]
}[] = [
  {
    username: 'alice',
    displayName: 'Dr Alice Okafor',
    password: 'alice-demo-password',
    roles: ['clinician'],
  },
  {
    username: 'bob',
    displayName: 'Dr Bob Lindqvist',
    password: 'bob-demo-password',
    roles: ['clinician'],
  },
  {
    username: 'carol',
    displayName: 'Nurse Carol Mendes',
    password: 'carol-demo-password',
    roles: ['clinician'],
  },
  {
    username: 'erin',
    displayName: 'Dr Erin Walsh (ED)',
    password: 'erin-demo-password',
    roles: ['clinician', 'emergency'],
  },
  {
    username: 'admin',
    displayName: 'Clinic administrator',
    password: 'admin-demo-password',
    roles: ['admin'],
  },
]

const CHARTS: { demographics: Demographics; records: NewClinicalRecord[] }[] = [
  {
    demographics: {
      fullName: 'María José Fernández',
      dateOfBirth: '1958-03-14',
      sex: 'female',
      nationalId: 'NHS 485 777 3456',
      address: '4 Harbour Row, Bristol BS1 5DB',
      phone: '+44 117 496 0123',
    },
    records: [
      {
        kind: 'encounter',
        occurredOn: '2026-10-05T10:15Z',
        title: 'Diabetes review',
        body: 'HbA1c 58 mmol/mol. Feet checked, no ulceration.',
      },
      {
        kind: 'diagnosis',
        occurredOn: '2019-06-01',
        title: 'Type 2 diabetes mellitus',
        code: 'E11.9',
      },
      {
        kind: 'medication',
        occurredOn: '2026-10-05',
        title: 'Metformin 1 g twice daily',
        code: '861007',
      },
      {
        kind: 'allergy',
        occurredOn: '2001-01-01',
        title: 'Penicillin: rash',
        code: 'Z88.0',
      },
    ],
  },
  {
    demographics: {
      fullName: 'Tomasz Nowak',
      dateOfBirth: '1987-11-30',
      sex: 'male',
      nationalId: 'NHS 943 476 5870',
      email: 'tomasz.nowak@example.com',
    },
    records: [
      {
        kind: 'encounter',
        occurredOn: '2026-11-20T14:00Z',
        title: 'Sprained ankle',
        body: 'Inversion injury playing football. Ottawa rules negative.',
      },
      {
        kind: 'note',
        occurredOn: '2026-11-21',
        title: 'Physiotherapy referral',
        body: 'Referred for balance work, 6 sessions.',
      },
    ],
  },
]

/** What {@link seedDemoClinic} made; all zero when the clinic was there already. */
export interface DemoClinicSeeded {
  readonly users: number
  readonly patients: number
  readonly records: number
}

/**
 * Creates the demo clinic in the vault's database, once: if the demo user alice
 * exists it does nothing. Never in production: the passwords are public and one
 * user holds the emergency role.
 */
export async function seedDemoClinic(vault: Vault): Promise<DemoClinicSeeded> {
  if (process.env['NODE_ENV'] === 'production') {
    throw new ConfigurationError('the demo seed does not run with NODE_ENV=production')
  }
  if (await userExists(vault, 'alice')) return { users: 0, patients: 0, records: 0 }
  const ids = new Map<string, string>()
  for (const user of DEMO_USERS)
    ids.set(user.username, (await vault.registerUser(user)).id)

  let records = 0
  const alice = await vault.login('alice', 'alice-demo-password')
  try {
    for (const [i, chart] of CHARTS.entries()) {
      const patientId = await alice.createPatient(chart.demographics)
      for (const record of chart.records) await alice.addRecord(patientId, record)
      records += chart.records.length
      // Bob covers alice's diabetes clinic; the second patient stays alice's alone.
      if (i === 0) await alice.grant(patientId, ids.get('bob')!)
    }
  } finally {
    alice.close()
  }
  return { users: DEMO_USERS.length, patients: CHARTS.length, records }
}

async function userExists(vault: Vault, username: string): Promise<boolean> {
  try {
    await vault.findUser(username)
    return true
  } catch (e) {
    if (e instanceof NotFoundError) return false
    throw e
  }
}
