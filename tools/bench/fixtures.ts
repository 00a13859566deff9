import { createHash, randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { auditHeadMac, auditRowMac } from '../../src/crypto/audit-mac.js'
import { wipe } from '../../src/crypto/bytes.js'
import { TEST_KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import { generatePatientKey } from '../../src/crypto/patient-key.js'
import { sealPatientKey } from '../../src/crypto/patient-key-seal.js'
import {
  userCertificationKey,
  userKeyCertificate,
} from '../../src/crypto/user-key-certificate.js'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import {
  advanceAuditHead,
  lockAuditHead,
} from '../../src/repositories/audit-log.repository.js'
import { AUDIT_TABLES } from '../../src/repositories/audit-log.row.js'
import { sealColumns } from '../../src/repositories/encrypted-fields.js'
import {
  chartTableOf,
  readChartRows,
  startChartState,
} from '../../src/services/chart-state.service.js'
import { CLINICAL_RECORDS, PATIENTS } from '../../src/schema/chart-tables.js'
import { encodeRow } from '../../src/schema/row-codec.js'
import type { Demographics, NewClinicalRecord } from '../../src/services/domain.js'
import { fieldKeysFor } from '../../src/services/patient-access.js'
import { type Session, unlockedUserOf } from '../../src/services/session.js'
import type { UnlockedUser } from '../../src/services/unlocked-user.js'
import { inTransaction } from '../../src/services/transaction.js'
import { credentialsFor } from '../../src/services/user.service.js'
import { recoveryRecipientId } from '../../src/services/vault-context.js'
import type { SqlFieldKeys } from '../../src/sql/envelope-sql.js'
import { executeWrite, type Executor } from '../../src/sql/prepared.js'
import { appEncrypt, appEncryptNullable, type AppKey } from './app-gcm.js'
import type { BenchDb } from './database.js'

/**
 * Bench data and bulk loading. Fixtures are loaded in batches through the real
 * SQL envelope builders (sealColumns → AES_ENCRYPT + HMAC in MySQL) and real
 * HPKE seals; only the operation being measured goes through the services.
 */

/** Rows per multi-row INSERT (a few thousand placeholders: far below the 65,535 limit). */
export const INSERT_BATCH = 100

const NOTE =
  'Patient seen for review of type 2 diabetes. Reports good adherence to metformin, ' +
  'no hypoglycaemic episodes, mild fatigue in the afternoons. BP 128/82, pulse 72 ' +
  'regular, BMI 29.4. Feet: pulses present, monofilament sensation intact. HbA1c ' +
  '58 mmol/mol, eGFR 74, lipids within target. Plan: continue metformin, dietary ' +
  'advice repeated, retinal screening booked, review in three months. '

/** A 1 KB clinical note (ASCII, so 1,024 bytes), varied by `i`. */
export function sampleNote(i: number, bytes = 1024): string {
  const head = `Note ${i}. `
  let text = head
  while (text.length < bytes) text += NOTE
  return text.slice(0, bytes)
}

/** One clinical record: a 1 KB note and three short fields. */
export function sampleRecord(i: number): NewClinicalRecord & { kind: 'note' } {
  return {
    kind: 'note',
    occurredOn: '2026-11-02T09:30Z',
    title: `Diabetes review, visit ${i}`,
    code: 'E11.9',
    body: sampleNote(i),
  }
}

export function sampleDemographics(i: number): Demographics {
  return {
    fullName: `Bench Patient ${i}`,
    dateOfBirth: '1961-04-17',
    sex: 'female',
    nationalId: `NHS ${String(900_000_000 + i)}`,
    address: `${i} Harbour Street, Whitby YO21 3PN`,
    phone: '+44 1947 600000',
    email: `patient${i}@example.org`,
  }
}

/** Values sealed per record and per patient by the samples (every field present). */
export const VALUES_PER_RECORD = 4
export const VALUES_PER_PATIENT = 7

/** Same shape as clinical_records (keys, index, foreign keys), plaintext columns. */
export const PLAIN_RECORDS = 'bench_plain_records'
/** Same shape, cloak-style AES-256-GCM text columns (app-gcm.ts). */
export const APP_RECORDS = 'bench_app_records'
/** A plaintext system's grant: one access-control row. */
export const PLAIN_ACL = 'bench_plain_acl'

function innodb(t: Knex.CreateTableBuilder): void {
  t.engine('InnoDB')
  t.charset('utf8mb4')
  t.collate('utf8mb4_bin')
}

function recordKeys(t: Knex.CreateTableBuilder, knex: Knex, indexName: string): void {
  innodb(t)
  t.specificType('id', 'BINARY(16)').notNullable().primary()
  t.specificType('patient_id', 'BINARY(16)').notNullable().references('patients.id')
  t.enu('kind', [
    'encounter',
    'note',
    'diagnosis',
    'medication',
    'allergy',
    'observation',
  ]).notNullable()
  t.specificType('author_id', 'BINARY(16)').notNullable().references('users.id')
  t.specificType('created_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
  t.specificType('updated_at', 'DATETIME(3)').notNullable().defaultTo(knex.fn.now(3))
  t.index(['patient_id', 'created_at'], indexName)
}

/** The comparison tables, next to the real schema (their foreign keys point into it). */
export async function createComparisonTables(db: Knex): Promise<void> {
  await db.schema.createTable(PLAIN_RECORDS, (t) => {
    recordKeys(t, db, 'bench_plain_records_by_patient')
    t.string('occurred_on', 24).notNullable()
    t.string('title', 1024).notNullable()
    t.string('code', 64)
    t.specificType('body', 'MEDIUMTEXT')
  })
  await db.schema.createTable(APP_RECORDS, (t) => {
    recordKeys(t, db, 'bench_app_records_by_patient')
    // base64url of ciphertext and tag, plus the 36-character cloak prefix.
    t.string('occurred_on_ct', 120).notNullable()
    t.string('title_ct', 1500).notNullable()
    t.string('code_ct', 160)
    t.specificType('body_ct', 'MEDIUMTEXT')
  })
  await db.schema.createTable(PLAIN_ACL, (t) => {
    innodb(t)
    t.specificType('patient_id', 'BINARY(16)').notNullable().references('patients.id')
    t.specificType('user_id', 'BINARY(16)').notNullable().references('users.id')
    t.specificType('granted_by', 'BINARY(16)').notNullable().references('users.id')
    t.specificType('granted_at', 'DATETIME(3)').notNullable().defaultTo(db.fn.now(3))
    t.primary(['patient_id', 'user_id'])
    t.index(['user_id', 'patient_id'], 'bench_plain_acl_by_user')
  })
}

export function plainRow(
  id: Buffer,
  patientId: Buffer,
  authorId: Buffer,
  record: NewClinicalRecord,
): Record<string, unknown> {
  return {
    id,
    patient_id: patientId,
    kind: record.kind,
    author_id: authorId,
    occurred_on: record.occurredOn,
    title: record.title,
    code: record.code ?? null,
    body: record.body ?? null,
  }
}

export function appRow(
  id: Buffer,
  patientId: Buffer,
  authorId: Buffer,
  record: NewClinicalRecord,
  key: AppKey,
): Record<string, unknown> {
  return {
    id,
    patient_id: patientId,
    kind: record.kind,
    author_id: authorId,
    occurred_on_ct: appEncrypt(record.occurredOn, key),
    title_ct: appEncrypt(record.title, key),
    code_ct: appEncryptNullable(record.code, key),
    body_ct: appEncryptNullable(record.body, key),
  }
}

/** A clinical_records row whose envelopes MySQL forms (the repository's sealColumns). */
export function vaultRow(
  db: Executor,
  id: Buffer,
  patientId: Buffer,
  authorId: Buffer,
  record: NewClinicalRecord,
  keys: SqlFieldKeys,
): Record<string, unknown> {
  const { plain, encrypted } = encodeRow(
    CLINICAL_RECORDS,
    { ...record, authorId: rowIdToString(authorId) },
    false,
  )
  return {
    id,
    patient_id: patientId,
    ...plain,
    ...sealColumns(db as Knex, 'clinical_records', id, encrypted, keys).sql,
  }
}

const CHART_STATE_TABLES = [chartTableOf(PATIENTS), chartTableOf(CLINICAL_RECORDS)]

/** Multi-row INSERTs of at most {@link INSERT_BATCH} rows, as prepared statements. */
export async function insertRows(
  db: Executor,
  table: string,
  rows: readonly Record<string, unknown>[],
  batch = INSERT_BATCH,
): Promise<void> {
  for (let at = 0; at < rows.length; at += batch) {
    await executeWrite(
      db,
      db(table).insert(rows.slice(at, at + batch)),
      `bench insert ${table}`,
    )
  }
}

/** What a seeded grant needs of a user. */
export interface SeedUser {
  readonly idBytes: Buffer
  readonly id: string
  readonly publicKey: Buffer
}

export function seedUserOf(session: Session): SeedUser {
  return {
    idBytes: unlockedUserOf(session, 'session').userIdBytes,
    id: session.userId,
    publicKey: session.publicKey,
  }
}

/**
 * Bulk users with real credentials (TEST_KDF_POLICY) and key pairs; they can log in
 * with `password`. Returns them in order.
 */
export async function seedUsers(
  b: BenchDb,
  count: number,
  prefix: string,
  password: string,
): Promise<SeedUser[]> {
  const users: SeedUser[] = []
  const certKey = userCertificationKey(b.auditKey)
  for (let at = 0; at < count; at += INSERT_BATCH) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(INSERT_BATCH, count - at) }, async (_, k) => {
        const idBytes = newRowId()
        const id = rowIdToString(idBytes)
        const pair = generateUserKeyPair()
        try {
          const credentials = await credentialsFor(
            password,
            pair.privateKey,
            id,
            TEST_KDF_POLICY,
          )
          return {
            user: { idBytes, id, publicKey: pair.publicKey },
            row: {
              id: idBytes,
              username: `${prefix}-${at + k}`,
              display_name: `Bench user ${at + k}`,
              roles: 'clinician',
              public_key: pair.publicKey,
              // Certified as registerUser does, or no grant could be sealed to them.
              public_key_version: 1,
              public_key_certificate: userKeyCertificate(certKey, {
                userId: idBytes,
                keyVersion: 1,
                publicKey: pair.publicKey,
              }),
              ...credentials,
            },
          }
        } finally {
          wipe(pair.privateKey)
        }
      }),
    )
    await insertRows(
      b.db,
      'users',
      chunk.map((c) => c.row),
    )
    users.push(...chunk.map((c) => c.user))
  }
  wipe(certKey)
  return users
}

export interface SeededPatient {
  readonly idBytes: Buffer
  readonly id: string
}

/**
 * Bulk patients, each with its own patient key (version 1), demographics sealed
 * in SQL, a grant HPKE-sealed to `owner` (and to each `grantees[i].user` for the
 * first `upTo` patients), the recovery seal, and `recordsPerPatient` records
 * sealed in SQL. `plain`/`app` also write the same records to the comparison
 * tables. One transaction per batch of patients.
 */
export async function seedPatients(
  b: BenchDb,
  options: {
    readonly owner: SeedUser
    readonly count: number
    readonly recordsPerPatient?: number
    readonly grantees?: readonly { user: SeedUser; upTo: number }[]
    readonly app?: (patientId: Buffer) => AppKey
    readonly plain?: boolean
    readonly log?: (line: string) => void
  },
): Promise<SeededPatient[]> {
  const { owner, count } = options
  const records = options.recordsPerPatient ?? 0
  const fingerprint = createHash('sha256').update(b.recovery.publicKey).digest()
  const recoveryId = recoveryRecipientId(fingerprint)
  const perBatch = Math.max(1, Math.min(200, Math.floor(2000 / Math.max(1, records))))
  const out: SeededPatient[] = []
  let lastLog = Date.now()
  for (let at = 0; at < count; at += perBatch) {
    const n = Math.min(perBatch, count - at)
    const patients: Record<string, unknown>[] = []
    const versions: Record<string, unknown>[] = []
    const seals: Promise<Record<string, unknown>>[] = []
    const recovery: Promise<Record<string, unknown>>[] = []
    const vaultRecords: Record<string, unknown>[] = []
    const plainRecords: Record<string, unknown>[] = []
    const appRecords: Record<string, unknown>[] = []
    const keysToWipe: Buffer[] = []
    for (let k = 0; k < n; k++) {
      const index = at + k
      const idBytes = newRowId()
      const id = rowIdToString(idBytes)
      out.push({ idBytes, id })
      const pdk = generatePatientKey()
      keysToWipe.push(pdk)
      const keys = fieldKeysFor(pdk, 1)
      keysToWipe.push(keys.enc, keys.inner, keys.outer)
      patients.push({
        id: idBytes,
        current_key_version: 1,
        created_by: owner.idBytes,
        ...sealColumns(
          b.db,
          'patients',
          idBytes,
          encodeRow(
            PATIENTS,
            { ...sampleDemographics(index), createdBy: rowIdToString(owner.idBytes) },
            false,
          ).encrypted,
          keys,
        ).sql,
      })
      versions.push({ patient_id: idBytes, version: 1, created_by: owner.idBytes })
      const grantees = [
        owner,
        ...(options.grantees ?? []).filter((g) => index < g.upTo).map((g) => g.user),
      ]
      for (const user of grantees) {
        seals.push(
          sealPatientKey(pdk, user.publicKey, {
            patientId: id,
            keyVersion: 1,
            recipientId: user.id,
          }).then((sealed) => ({
            patient_id: idBytes,
            key_version: 1,
            user_id: user.idBytes,
            sealed_key: sealed,
            granted_by: owner.idBytes,
          })),
        )
      }
      recovery.push(
        sealPatientKey(pdk, b.recovery.publicKey, {
          patientId: id,
          keyVersion: 1,
          recipientId: recoveryId,
        }).then((sealed) => ({
          patient_id: idBytes,
          key_version: 1,
          recovery_key_fingerprint: fingerprint,
          sealed_key: sealed,
        })),
      )
      const appKey = options.app?.(idBytes)
      for (let r = 0; r < records; r++) {
        const record = sampleRecord(index * records + r)
        vaultRecords.push(
          vaultRow(b.db, newRowId(), idBytes, owner.idBytes, record, keys),
        )
        if (options.plain)
          plainRecords.push(plainRow(newRowId(), idBytes, owner.idBytes, record))
        if (appKey)
          appRecords.push(appRow(newRowId(), idBytes, owner.idBytes, record, appKey))
      }
    }
    const grantRows = await Promise.all(seals)
    const recoveryRows = await Promise.all(recovery)
    await inTransaction(b.db, async (trx) => {
      await insertRows(trx, 'patients', patients)
      await insertRows(trx, 'patient_key_versions', versions, 1000)
      await insertRows(trx, 'patient_key_grants', grantRows, 1000)
      await insertRows(trx, 'patient_key_recovery_seals', recoveryRows, 1000)
      await insertRows(trx, 'clinical_records', vaultRecords)
      await insertRows(trx, PLAIN_RECORDS, plainRecords)
      await insertRows(trx, APP_RECORDS, appRecords)
      // Each patient's chart state, as createPatient and addRecord keep it, so
      // that the writes measured later pay for moving it.
      for (const { idBytes } of out.slice(at, at + n)) {
        const rows = await readChartRows(trx, CHART_STATE_TABLES, idBytes)
        await startChartState(trx, b.auditKey, idBytes, rows)
      }
    })
    wipe(...keysToWipe)
    if (options.log && Date.now() - lastLog > 5000) {
      lastLog = Date.now()
      options.log(`seeded ${at + n}/${count} patients`)
    }
  }
  return out
}

/**
 * Appends `count` rows by `actor` to the real audit chain, in batches: the head is
 * locked, each row's MAC chained on the previous one with the run's audit key
 * (crypto/audit-mac.ts, as appendAudit does), the rows inserted in multi-row
 * statements and the head advanced, one transaction per batch. The chain stays
 * valid, so the services keep appending to it afterwards. The rows name random
 * patients, or `patientId` when given (a patient's own history of reads).
 */
export async function seedAuditRows(
  b: BenchDb,
  actor: Buffer,
  count: number,
  batch = 1000,
  patientId?: Buffer,
): Promise<void> {
  for (let at = 0; at < count; at += batch) {
    const n = Math.min(batch, count - at)
    await inTransaction(b.db, async (trx) => {
      const head = await lockAuditHead(trx, AUDIT_TABLES)
      if (!head) throw new Error('audit head missing')
      let seq = BigInt(head.last_seq)
      const fromSeq = seq
      let mac = head.last_mac
      const rows: Record<string, unknown>[] = []
      for (let k = 0; k < n; k++) {
        seq += 1n
        const fields = {
          seq,
          occurredAt: head.now,
          actorUserId: actor,
          action: 'record.read',
          patientId: patientId ?? randomBytes(16),
          targetUserId: null,
          outcome: 'success',
          reason: null,
          detail: `record ${rowIdToString(newRowId())}`,
        }
        mac = auditRowMac(b.auditKey, mac, fields)
        rows.push({
          seq: seq as unknown as number,
          occurred_at: fields.occurredAt,
          actor_user_id: actor,
          action: fields.action,
          patient_id: fields.patientId,
          target_user_id: null,
          outcome: fields.outcome,
          reason: null,
          detail: fields.detail,
          mac,
        })
      }
      await insertRows(trx, AUDIT_TABLES.log, rows, 500)
      if (
        !(await advanceAuditHead(trx, AUDIT_TABLES, fromSeq, {
          lastSeq: seq,
          lastMac: mac,
          headMac: auditHeadMac(b.auditKey, seq, mac),
        }))
      ) {
        throw new Error('audit head moved while seeding')
      }
    })
  }
}

/** A password made at run time for bench users. */
export function benchPassword(): string {
  return `bench-${randomBytes(12).toString('base64url')}`
}

/**
 * Registers a user through the vault (TEST_KDF_POLICY on the bench vault) and logs
 * in. `user` is the session's unlocked user, for benches that time the service
 * internals (grant check, key cache) without the Session facade.
 */
export async function benchSession(
  b: BenchDb,
  username: string,
  roles?: ('clinician' | 'admin' | 'emergency')[],
): Promise<{ session: Session; user: UnlockedUser; username: string; password: string }> {
  const password = benchPassword()
  await b.vault.registerUser({
    username,
    displayName: `Bench ${username}`,
    password,
    ...(roles ? { roles } : {}),
  })
  const session = await b.vault.login(username, password)
  return { session, user: unlockedUserOf(session, 'session'), username, password }
}
