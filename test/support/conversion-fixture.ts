import { createHash, randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { recordInCatalog } from '../../src/schema/catalog.js'
import mysql from 'mysql2/promise'
import { wipe } from '../../src/crypto/bytes.js'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import { ValidationError } from '../../src/errors/index.js'
import { openColumns, decodeColumns } from '../../src/repositories/encrypted-fields.js'
import type { EncryptedColumn } from '../../src/schema/column.js'
import { defineTable } from '../../src/schema/define-table.js'
import { recoveryOpener } from '../../src/services/key-openers.js'
import { fieldKeysFor } from '../../src/services/patient-access.js'
import type { Session } from '../../src/services/session.js'
import type { VaultContext } from '../../src/services/vault-context.js'
import { testDbConfig } from './test-env.js'

/**
 * A clinic's existing table for the conversion tests, as it was before
 * emr-vault: a plaintext column (`drug_plain`) and a column its old code wrote
 * with MySQL's `AES_ENCRYPT(value, key)` in the server's default aes-128-ecb
 * (`note_legacy`), beside the envelope columns the declaration adds.
 */

/** A text column as the column factories make it (literal, so these tests stand on the interface). */
export function textColumn(maxBytes: number): EncryptedColumn<string, true> {
  return {
    kind: 'encrypted',
    type: 'text',
    nullable: true,
    column: undefined,
    maxBytes,
    encode(value, field) {
      if (typeof value !== 'string') throw new ValidationError(field, 'must be a string')
      const bytes = Buffer.from(value, 'utf8')
      if (bytes.length > maxBytes)
        throw new ValidationError(field, `must be at most ${maxBytes} bytes`)
      return bytes
    },
    decode: (bytes) => bytes.toString('utf8'),
  }
}

export const DRUG_MAX_BYTES = 200

/** The declaration while both conversions run. */
export function medications(table: string, converting = true) {
  return defineTable({
    name: table,
    encrypted: { drug: textColumn(DRUG_MAX_BYTES), note: textColumn(400) },
    ...(converting ? { convertingFrom: { drug: 'drug_plain' } } : {}),
  })
}

export async function createMedicationsTable(db: Knex, table: string): Promise<void> {
  await db.raw(
    `CREATE TABLE ?? (
       id BINARY(16) NOT NULL PRIMARY KEY,
       patient_id BINARY(16) NOT NULL,
       drug_enc VARBINARY(400) NULL,
       note_enc VARBINARY(600) NULL,
       drug_plain VARCHAR(200) NULL,
       note_legacy VARBINARY(512) NULL,
       created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
       updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
       KEY (patient_id, id),
       FOREIGN KEY (patient_id) REFERENCES patients (id)
     )`,
    [table],
  )
  // What the app's migration does when it declares the table (addEncryptedColumns
  // records it too): rotation run from anywhere then covers the new columns.
  await recordInCatalog(db, medications(table))
}

export interface SourceRowValues {
  readonly id: string
  readonly patientId: string
  readonly drug: string
  readonly note: string
}

/** Values unique to each row, so that a dump can be searched for every one. */
export function rowValues(
  patientId: string,
  rows: number,
  tag: string,
): SourceRowValues[] {
  return Array.from({ length: rows }, (_, i) => ({
    id: rowIdToString(newRowId()),
    patientId,
    drug: `${tag} drug ${randomBytes(6).toString('hex')} ${i} ✓ 250 mg`,
    note: `${tag} note ${randomBytes(6).toString('hex')} ${i} — take with food`,
  }))
}

const uuidBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex')

/**
 * A plain connection outside the pool: the old application's. Its session is
 * left at the server's default block_encryption_mode (aes-128-ecb), which is
 * the point: the legacy values are made by MySQL itself, as they were.
 */
export async function legacyConnection(database: string): Promise<mysql.Connection> {
  const c = testDbConfig()
  const conn = await mysql.createConnection({
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database,
  })
  const [[mode]] = (await conn.query('SELECT @@session.block_encryption_mode AS m')) as [
    { m: string }[],
    unknown,
  ]
  if (mode!.m !== 'aes-128-ecb')
    throw new Error(`expected the server default aes-128-ecb, got ${mode!.m}`)
  return conn
}

/** The legacy app's per-patient key table: the seed's scheme. */
export const LEGACY_KEYS_TABLE = 'legacy_patient_keys'

/**
 * Writes the rows as the old application did, on its own connection: the drug
 * in plaintext, the note as `AES_ENCRYPT(note, key)` made by the server. With
 * `password`, each patient has a random "system" key stored wrapped as
 * `AES_ENCRYPT(system_key, UNHEX(SHA2(password, 256)))` and the note is
 * encrypted under it (unwrapped by the server too); else under `tableKey`.
 */
export async function writeLegacyRows(
  conn: mysql.Connection,
  table: string,
  rows: readonly SourceRowValues[],
  legacy: { tableKey: Buffer } | { password: string },
): Promise<void> {
  if ('password' in legacy) {
    await conn.query(
      `CREATE TABLE IF NOT EXISTS ${LEGACY_KEYS_TABLE} (patient_id BINARY(16) PRIMARY KEY, wrapped VARBINARY(64) NOT NULL)`,
    )
    const patients = [...new Set(rows.map((r) => r.patientId))]
    for (let at = 0; at < patients.length; at += 500) {
      const chunk = patients.slice(at, at + 500)
      await conn.query(
        `INSERT INTO ${LEGACY_KEYS_TABLE} (patient_id, wrapped) VALUES ${chunk.map(() => '(?, AES_ENCRYPT(?, UNHEX(SHA2(?, 256))))').join(', ')}`,
        chunk.flatMap((p) => [uuidBytes(p), randomBytes(32), legacy.password]),
      )
    }
  }
  for (let at = 0; at < rows.length; at += 500) {
    const chunk = rows.slice(at, at + 500)
    await conn.query(
      `INSERT INTO ?? (id, patient_id, drug_plain, note_legacy) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`,
      [
        table,
        ...chunk.flatMap((r) => [
          uuidBytes(r.id),
          uuidBytes(r.patientId),
          r.drug,
          r.note,
        ]),
      ],
    )
  }
  if ('password' in legacy) {
    await conn.query(
      `UPDATE ?? t JOIN ${LEGACY_KEYS_TABLE} k ON k.patient_id = t.patient_id
          SET t.note_legacy = AES_ENCRYPT(t.note_legacy, AES_DECRYPT(k.wrapped, UNHEX(SHA2(?, 256))))
        WHERE t.note_legacy IS NOT NULL`,
      [table, legacy.password],
    )
  } else {
    await conn.query('UPDATE ?? SET note_legacy = AES_ENCRYPT(note_legacy, ?)', [
      table,
      legacy.tableKey,
    ])
  }
}

/** The seed's "user" key: SHA-256 of the password, as raw bytes (UNHEX(SHA2(password, 256))). */
export function passwordKey(password: string): Buffer {
  return createHash('sha256').update(password, 'utf8').digest()
}

/**
 * Every envelope of `table` opened with the recovery key, per row id:
 * the values the declaration's fields read back as (null where there is none).
 */
export async function openAll(
  db: Knex,
  recovery: { publicKey: Buffer; privateKey: Buffer },
  table: string,
  columns: readonly string[] = ['drug_enc', 'note_enc'],
): Promise<Map<string, Record<string, string | null>>> {
  const ctx = {
    recoveryPublicKey: recovery.publicKey,
    recoveryFingerprint: createHash('sha256').update(recovery.publicKey).digest(),
  } as VaultContext
  const open = recoveryOpener(ctx, recovery.privateKey)
  const patients = (await db('patients').select('id', 'current_key_version')) as {
    id: Buffer
    current_key_version: number
  }[]
  const out = new Map<string, Record<string, string | null>>()
  for (const p of patients) {
    const key = await open(db, p.id, p.current_key_version)
    const keys = fieldKeysFor(key, p.current_key_version)
    wipe(key)
    const rows = (await db(`${table} as t`)
      .select('t.id', ...openColumns(db, table, 't', columns, keys))
      .where('t.patient_id', p.id)) as (Record<string, unknown> & { id: Buffer })[]
    for (const row of rows) {
      const opened = decodeColumns(table, row, columns)
      out.set(
        rowIdToString(row.id),
        Object.fromEntries(
          columns.map((c) => [
            c,
            opened[c] === null ? null : opened[c]!.toString('utf8'),
          ]),
        ),
      )
    }
    wipe(keys.enc, keys.inner, keys.outer)
  }
  return out
}

/** The table as a DBA's `SELECT *` dump sees it, every cell as bytes in one buffer. */
export async function rawDump(conn: mysql.Connection, table: string): Promise<Buffer> {
  const [rows] = (await conn.query('SELECT * FROM ??', [table])) as [
    Record<string, unknown>[],
    unknown,
  ]
  return Buffer.concat(
    rows.flatMap((r) =>
      Object.values(r).map((v) =>
        Buffer.isBuffer(v) ? v : Buffer.from(v === null ? '' : String(v), 'utf8'),
      ),
    ),
  )
}

/** `n` patients created by `owner`, `concurrency` at a time; their ids in order. */
export async function createPatients(
  owner: Session,
  n: number,
  concurrency = 8,
): Promise<string[]> {
  const ids: string[] = []
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      ids[i] = await owner.createPatient({
        fullName: `Conversion Patient ${i}`,
        dateOfBirth: '1970-01-01',
      })
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ids
}
