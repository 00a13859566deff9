/**
 * `npm run demo`: migrates and seeds the development database (the local private
 * MySQL unless one is configured), then shows what a reader of the tables sees
 * next to what an authorised user reads.
 */
import { createDb, createVault } from '../src/index.js'
import { devDbConfig } from './dev-database.js'
import { devAuditKey, devRecoveryPublicKey } from './dev-recovery-key.js'

const say = (line = '') => console.log(line)

const config = await devDbConfig((line) => say(`  [db] ${line}`))
say(`Database: ${config.user}@${config.host}:${config.port}/${config.database}`)
const db = createDb(config)
try {
  const [, migrations] = (await db.migrate.latest()) as [number, string[]]
  say(
    `Migrations applied: ${migrations.length === 0 ? 'none (already at latest)' : migrations.join(', ')}`,
  )
  await db.seed.run({
    directory: new URL('../seeds', import.meta.url).pathname,
    loadExtensions: ['.ts'],
  })
  const users = await db('users').select('username', 'roles').orderBy('username')
  say(`Users: ${users.map((u) => `${u.username} (${u.roles})`).join(', ')}`)

  const [raw] = await db('patients')
    .select('id', 'current_key_version', 'full_name_enc')
    .orderBy('id')
    .limit(1)
  say()
  say('What a DBA or a stolen backup sees in patients.full_name_enc:')
  say(`  ${(raw.full_name_enc as Buffer).toString('hex').slice(0, 96)}…`)

  const vault = createVault({
    db,
    recoveryPublicKey: devRecoveryPublicKey(),
    auditKey: devAuditKey(),
  })
  const bob = await vault.login('bob', 'bob-demo-password')
  try {
    const [patientId] = await bob.listAccessiblePatients()
    if (!patientId) throw new Error('bob holds no grant: seed the database again')
    const patient = await bob.readPatient(patientId)
    say()
    say(`What bob (granted by alice) reads for patient ${patientId}:`)
    say(`  ${patient.fullName}, born ${patient.dateOfBirth}`)
    for (const r of await bob.listRecords(patientId))
      say(`  ${r.occurredOn}  ${r.kind.padEnd(10)} ${r.title}`)
  } finally {
    bob.close()
  }
  const carol = await vault.login('carol', 'carol-demo-password')
  try {
    const readable = await carol.listAccessiblePatients()
    say()
    say(`carol holds no grant and can open ${readable.length} patients.`)
  } finally {
    carol.close()
  }
} finally {
  await db.destroy()
}
