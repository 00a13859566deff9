/**
 * The clinic app from the command line: connects, migrates (emr-vault's
 * migrations, then the clinic's), runs one visit and prints what it read back.
 *
 * With EMR_VAULT_DB_* set it uses that server and database and the deployment
 * keys (EMR_VAULT_AUDIT_KEY, EMR_VAULT_RECOVERY_PUBLIC_KEY). Without, it starts
 * emr-vault's private local server, makes a database for this run with keys
 * made for it, and drops that database at the end.
 */
import { randomBytes } from 'node:crypto'
import {
  createDb,
  createVault,
  dbConfigFromEnv,
  deploymentKeysFromEnv,
  generateRecoveryKeyPair,
  isDbConfigured,
  type DbConfig,
  type DeploymentKeys,
  type KdfPolicy,
} from 'emr-vault'
import { startLocalMysql, TEST_KDF_POLICY } from 'emr-vault/testing'
import { runVisit } from './clinic.js'
import { migrateClinic } from './migrations/index.js'
import { CLINIC_TABLES } from './tables.js'

const say = (line: string) => process.stdout.write(`${line}\n`)

interface Setup {
  readonly config: DbConfig
  readonly keys: DeploymentKeys
  readonly kdfPolicy?: KdfPolicy
  /** Set for a database made for this run. */
  readonly throwaway: boolean
}

async function setUp(): Promise<Setup> {
  if (isDbConfigured()) {
    return { config: dbConfigFromEnv(), keys: deploymentKeysFromEnv(), throwaway: false }
  }
  const server = await startLocalMysql({
    engine: process.env.EMR_VAULT_ENGINE === 'mariadb' ? 'mariadb' : 'mysql',
    database: `clinic_${randomBytes(4).toString('hex')}`,
    log: (line) => say(`[db] ${line}`),
  })
  return {
    config: { ...server, database: server.database },
    // Keys of a database that lives for this run only; a real deployment reads
    // the same keys from its configuration at every start.
    keys: {
      auditKey: randomBytes(32),
      searchKey: randomBytes(32),
      recoveryPublicKey: generateRecoveryKeyPair().publicKey,
    },
    kdfPolicy: TEST_KDF_POLICY,
    throwaway: true,
  }
}

const setup = await setUp()
const db = createDb(setup.config)
try {
  const applied = await migrateClinic(db, setup.config)
  say(`migrated: ${applied.length > 0 ? applied.join(', ') : 'nothing new'}`)
  const vault = createVault({
    db,
    ...setup.keys,
    ...(setup.kdfPolicy ? { kdfPolicy: setup.kdfPolicy } : {}),
    tables: CLINIC_TABLES,
  })
  const visit = await runVisit(vault, db)
  say(`patient ${visit.patientId}`)
  say(
    `active medications, by page: ${visit.activePages.map((p) => p.map((m) => m.drug).join(', ')).join(' | ')}`,
  )
  say(
    `stopped (own query): ${visit.stopped.map((m) => `${m.drug} ${m.startedOn}..${m.stoppedOn}`).join(', ')}`,
  )
  say(
    `colleague read while granted: ${visit.colleagueSaw.map((a) => a.allergen).join(', ')}`,
  )
  say(
    `revoke: key v${visit.revoke.fromVersion} -> v${visit.revoke.toVersion}, ${visit.revoke.rows} rows re-encrypted; colleague now gets ${visit.afterRevoke}`,
  )
  for (const m of visit.medications) {
    const note = m.instructions === null ? '' : ` (${m.instructions})`
    say(`  ${m.status.padEnd(8)} ${m.drug} ${m.dose} ${m.doseUnit} ${m.route}${note}`)
  }
  for (const a of visit.allergies) {
    const when = a.recordedAt.toISOString()
    say(`  allergy  ${a.allergen}: ${a.reaction}, ${a.severity}, recorded ${when}`)
  }
  say(
    `clinic-app: ${visit.medications.length} medications and ${visit.allergies.length} allergies read back under key v${visit.revoke.toVersion}`,
  )
  if (setup.throwaway) await db.raw('DROP DATABASE ??', [setup.config.database])
} finally {
  await db.destroy()
}
