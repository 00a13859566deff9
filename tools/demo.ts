/**
 * `npm run demo`: the story of emr-vault in under a minute, on the development
 * database (the private local MySQL unless one is configured). It migrates, seeds
 * the demo clinic, then walks through: a new patient, a grant, a read by another
 * clinician, a refused read, a password change, revoke + rotate, break-glass,
 * the audit chain, and what a raw look at the table shows. Safe to run again.
 */
import { readFileSync } from 'node:fs'
import {
  AccessDeniedError,
  AuthenticationError,
  createDb,
  createVault,
  migrateLatest,
  verifyAuditChain,
  type Vault,
} from '../src/index.js'
import { seedDemoClinic } from '../src/cli/demo-clinic.js'
import { devDbConfig } from '../src/testing/dev-database.js'
import {
  DEV_RECOVERY_FILE,
  devAuditKey,
  devSearchKey,
  devRecoveryPublicKey,
} from './dev-recovery-key.js'

let step = 0
const title = (text: string) => console.log(`\n${++step}. ${text}`)
const say = (text: string) => console.log(`   ${text}`)
const started = Date.now()

// A configuration problem (a server without the deployment keys, a server that
// is down) is one line and exit 1, not a stack trace.
process.on('uncaughtException', (e: Error & { code?: string }) => {
  console.error(`demo: ${e.code ? `${e.code}: ` : ''}${e.message.split('\n')[0]}`)
  process.exit(1)
})

const config = await devDbConfig((line) => say(`[db] ${line}`))
const db = createDb(config)
try {
  title(`Database ${config.user}@${config.host}:${config.port}/${config.database}`)
  const { applied, carriedOver } = await migrateLatest(db)
  if (carriedOver.length > 0)
    say(`migration history of an earlier version carried over (${carriedOver.length})`)
  say(
    applied.length
      ? `migrations applied: ${applied.join(', ')}`
      : 'schema already at the latest migration',
  )
  const auditKey = devAuditKey()
  const vault = createVault({
    db,
    recoveryPublicKey: devRecoveryPublicKey(),
    auditKey,
    searchKey: devSearchKey(),
  })
  await seedDemoClinic(vault)
  const users = await db('users').select('username', 'roles').orderBy('username')
  say(`demo clinic: ${users.map((u) => `${u.username} (${u.roles})`).join(', ')}`)

  const alice = await vault.login('alice', 'alice-demo-password')
  const bob = await vault.login('bob', 'bob-demo-password')
  const carol = await vault.login('carol', 'carol-demo-password')
  try {
    title('alice registers a new patient and writes a chart entry')
    const patientId = await alice.createPatient({
      fullName: 'Grace Hopper',
      dateOfBirth: '1906-12-09',
      nationalId: 'NHS 401 023 2137',
      phone: '+1 202 555 0143',
    })
    await alice.addRecord(patientId, {
      kind: 'encounter',
      occurredOn: new Date().toISOString().slice(0, 10),
      title: 'Chest pain assessment',
      body: 'ECG normal sinus rhythm. Troponin negative. Discharged with advice.',
    })
    say(
      `patient ${patientId}: a fresh 32-byte patient key, sealed to alice and to the recovery key`,
    )

    title('What a DBA, a dump or a stolen backup sees in the patients table')
    const [raw] = await db('patients').where(
      'id',
      Buffer.from(patientId.replace(/-/g, ''), 'hex'),
    )
    say(`full_name_enc = ${(raw.full_name_enc as Buffer).toString('hex').slice(0, 72)}…`)
    say(
      '(0x01 format, key version, random IV, AES-256-CBC ciphertext, HMAC tag: formed inside MySQL)',
    )

    title('alice grants the patient to bob, without knowing his password')
    await alice.grant(patientId, bob.userId)
    const chart = await bob.listRecords(patientId)
    say(`bob reads: ${(await bob.readPatient(patientId)).fullName}, "${chart[0]!.title}"`)

    title('carol holds no grant and is refused')
    await carol.readPatient(patientId).catch((e: unknown) => {
      if (!(e instanceof AccessDeniedError)) throw e
      say(`refused with ${e.code}: ${e.message}`)
    })

    title('bob changes his password: one private key re-wrapped, nothing re-encrypted')
    await vault.changePassword('bob', 'bob-demo-password', 'bob-temporary-password')
    await vault.login('bob', 'bob-demo-password').catch((e: unknown) => {
      if (!(e instanceof AuthenticationError)) throw e
      say('the old password now opens nothing')
    })
    const bobAgain = await vault.login('bob', 'bob-temporary-password')
    say(
      `with the new one bob still reads ${(await bobAgain.readPatient(patientId)).fullName}`,
    )
    bobAgain.close()
    await vault.changePassword('bob', 'bob-temporary-password', 'bob-demo-password')
    say('(and changes it back, so the demo passwords in the README stay true)')

    title(
      'alice revokes bob: his grant is deleted and the patient key rotated in one transaction',
    )
    const rotation = await alice.revoke(patientId, bob.userId)
    say(
      `key v${rotation.fromVersion} -> v${rotation.toVersion}; ${rotation.rows} rows re-encrypted inside SQL`,
    )
    await bob.readPatient(patientId).catch((e: unknown) => {
      if (!(e instanceof AccessDeniedError)) throw e
      say('bob (still logged in, key cached) is refused at his next read')
    })

    title(
      'break-glass: erin (emergency role) opens the chart without a grant, giving a reason',
    )
    if (process.env['EMR_VAULT_RECOVERY_PUBLIC_KEY']) {
      say('skipped: a real recovery key is configured, and its private half is offline')
    } else {
      await breakGlassStep(vault, patientId)
    }

    title('The audit log: every act above, chained with a keyed MAC')
    const result = await verifyAuditChain(db, auditKey)
    if (!result.ok) throw new Error(`audit chain broken at seq ${result.firstBadSeq}`)
    say(`audit chain verifies: ${result.rows} rows, last seq ${result.lastSeq}`)
    const rows = await db('audit_log')
      .where('patient_id', Buffer.from(patientId.replace(/-/g, ''), 'hex'))
      .orderBy('seq')
      .select('action', 'outcome')
    say(
      rows
        .map(
          (r: { action: string; outcome: string }) =>
            `${r.action}${r.outcome === 'success' ? '' : ` (${r.outcome})`}`,
        )
        .join(', '),
    )
  } finally {
    for (const s of [alice, bob, carol]) s.close()
  }
  title(
    `Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Next: npm test, npx emr-vault --help, npx emr-vault doctor`,
  )
} finally {
  await db.destroy()
}

/** Emergency access set up with the development recovery key, then erin breaks the glass. */
async function breakGlassStep(vault: Vault, patientId: string): Promise<void> {
  const admin = await vault.login('admin', 'admin-demo-password')
  const recoveryPrivateKey = Buffer.from(
    (JSON.parse(readFileSync(DEV_RECOVERY_FILE, 'utf8')) as { privateKey: string })
      .privateKey,
    'base64',
  )
  await vault.setUpEmergencyAccess({ admin, recoveryPrivateKey })
  const erinUser = await vault.findUser('erin')
  await vault.grantEmergencyKey({ admin, recoveryPrivateKey }, erinUser.id)
  recoveryPrivateKey.fill(0)
  admin.close()
  const erin = await vault.login('erin', 'erin-demo-password')
  const { expiresAt } = await erin.breakGlass(
    patientId,
    'Patient unresponsive in ED; need history',
    15 * 60_000,
  )
  say(
    `erin reads "${(await erin.listRecords(patientId))[0]!.title}" until ${expiresAt.toISOString()}`,
  )
  erin.close()
}
