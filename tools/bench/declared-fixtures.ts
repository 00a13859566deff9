import type { Knex } from 'knex'
import { rowIdToString } from '../../src/db/row-id.js'
import { sealColumns } from '../../src/repositories/encrypted-fields.js'
import { defineTable, type NewRowOf, type RowOf } from '../../src/schema/define-table.js'
import { encrypted } from '../../src/schema/encrypted-columns.js'
import { plain } from '../../src/schema/plain-columns.js'
import { encodeRow } from '../../src/schema/row-codec.js'
import { createEncryptedTable } from '../../src/schema/table-ddl.js'
import type { SqlFieldKeys } from '../../src/sql/envelope-sql.js'
import type { Executor } from '../../src/sql/prepared.js'

/**
 * The declared-table scenario's data: an application table with six encrypted
 * columns of six types and two plain ones, the same table in plaintext, and a
 * plaintext access log for the audited baseline.
 */

interface Dosage {
  readonly route: string
  readonly frequency: string
  readonly withFood: boolean
  readonly notes: string
}

function isDosage(value: unknown): value is Dosage {
  const v = value as Partial<Dosage> | null
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.route === 'string' &&
    typeof v.frequency === 'string' &&
    typeof v.withFood === 'boolean' &&
    typeof v.notes === 'string'
  )
}

export const MEDICATION_STATUSES = ['active', 'stopped'] as const

export const BENCH_MEDICATIONS = defineTable({
  name: 'bench_medications',
  encrypted: {
    drug: encrypted.text({ maxBytes: 200 }),
    dose: encrypted.decimal({ precision: 8, scale: 3 }),
    startedOn: encrypted.date(),
    lastGivenAt: encrypted.dateTime(),
    refills: encrypted.integer({ min: 0, max: 1000 }),
    dosage: encrypted.json({ maxBytes: 1024, check: isDosage }),
  },
  plain: {
    status: plain.enum(MEDICATION_STATUSES),
    orderedAt: plain.dateTime(),
  },
})

export type Medication = RowOf<typeof BENCH_MEDICATIONS>
export type NewMedication = NewRowOf<typeof BENCH_MEDICATIONS>

/** The same columns in clear: VARCHAR, DECIMAL, DATE, DATETIME(3), BIGINT, JSON. */
export const PLAIN_MEDICATIONS = 'bench_plain_medications'
/** A plaintext system's access log: one INSERT per act. */
export const PLAIN_AUDIT = 'bench_plain_audit'

/** The index a list ordered by `orderedAt` needs (both tables have it). */
const BY_ORDERED_AT = ['patient_id', 'ordered_at', 'id']

function innodb(t: Knex.CreateTableBuilder): void {
  t.engine('InnoDB')
  t.charset('utf8mb4')
  t.collate('utf8mb4_bin')
}

/**
 * The declared table through the migration helper (with the index a list
 * ordered by `orderedAt` needs, which an application adds through `extend`),
 * and its plaintext twin with the same keys, indexes, foreign key and CHECK,
 * the six values in clear; then the plaintext access log.
 */
export async function createDeclaredBenchTables(db: Knex): Promise<void> {
  const decl = BENCH_MEDICATIONS
  await createEncryptedTable(db, decl, (t) => {
    t.index(BY_ORDERED_AT, `${decl.name}_by_ordered_at`)
  })
  await db.schema.createTable(PLAIN_MEDICATIONS, (t) => {
    innodb(t)
    t.specificType('id', 'BINARY(16)').notNullable().primary()
    t.specificType('patient_id', 'BINARY(16)').notNullable()
    t.specificType('created_at', 'DATETIME(3)').notNullable().defaultTo(db.fn.now(3))
    t.specificType('updated_at', 'DATETIME(3)').notNullable().defaultTo(db.fn.now(3))
    t.string('drug', 200).notNullable()
    t.decimal('dose', 8, 3).notNullable()
    t.date('started_on').notNullable()
    t.specificType('last_given_at', 'DATETIME(3)').notNullable()
    t.bigInteger('refills').notNullable()
    t.json('dosage').notNullable()
    t.string('status', 7).notNullable()
    t.specificType('ordered_at', 'DATETIME(3)').notNullable()
    t.check(
      "`status` IN ('active', 'stopped')",
      undefined,
      `${PLAIN_MEDICATIONS}_status_in`,
    )
    t.foreign('patient_id', `${PLAIN_MEDICATIONS}_patient_id_foreign`)
      .references('id')
      .inTable('patients')
    t.index(['patient_id', 'created_at', 'id'], `${PLAIN_MEDICATIONS}_by_patient`)
    t.index(BY_ORDERED_AT, `${PLAIN_MEDICATIONS}_by_ordered_at`)
  })
  await db.schema.createTable(PLAIN_AUDIT, (t) => {
    innodb(t)
    t.bigIncrements('seq').primary()
    t.specificType('occurred_at', 'DATETIME(3)').notNullable().defaultTo(db.fn.now(3))
    t.specificType('actor_user_id', 'BINARY(16)').notNullable()
    t.string('action', 40).notNullable()
    t.specificType('patient_id', 'BINARY(16)').notNullable()
    t.string('detail', 200).nullable()
    t.index(['patient_id', 'seq'], `${PLAIN_AUDIT}_by_patient`)
  })
}

const DRUGS = ['Metformin', 'Atorvastatin', 'Lisinopril', 'Amlodipine', 'Levothyroxine']

/** A medication order; `i` varies the values and spaces `orderedAt` a minute apart. */
export function sampleMedication(i: number): NewMedication {
  return {
    drug: `${DRUGS[i % DRUGS.length]} ${(i % 4) * 250 + 250} mg tablets`,
    dose: `${(i % 40) + 1}.250`,
    startedOn: '2026-03-14',
    lastGivenAt: new Date(Date.UTC(2026, 10, 2, 8, 30) + i * 3_600_000),
    refills: i % 12,
    dosage: {
      route: 'oral',
      frequency: 'twice daily',
      withFood: i % 2 === 0,
      notes: 'Take with a full glass of water; review renal function in three months.',
    },
    status: i % 5 === 0 ? 'stopped' : 'active',
    orderedAt: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
  }
}

/** The row the plaintext table stores for `m`, as the driver binds it. */
export function plainMedicationRow(
  id: Buffer,
  patientId: Buffer,
  m: NewMedication,
): Record<string, unknown> {
  return {
    id,
    patient_id: patientId,
    status: m.status,
    ordered_at: m.orderedAt,
    drug: m.drug,
    dose: m.dose,
    started_on: m.startedOn,
    last_given_at: m.lastGivenAt,
    refills: m.refills,
    dosage: JSON.stringify(m.dosage),
  }
}

/** A declared-table row whose envelopes MySQL forms (the repository's sealColumns). */
export function sealedMedicationRow(
  db: Executor,
  id: Buffer,
  patientId: Buffer,
  m: NewMedication,
  keys: SqlFieldKeys,
): Record<string, unknown> {
  const { plain: values, encrypted: sealed } = encodeRow(BENCH_MEDICATIONS, m, false)
  return {
    id,
    patient_id: patientId,
    ...values,
    ...sealColumns(db as Knex, BENCH_MEDICATIONS.name, id, sealed, keys).sql,
  }
}

/** The columns the plaintext read selects, in the declared table's order. */
export const PLAIN_MEDICATION_COLUMNS = [
  'id',
  'patient_id',
  'created_at',
  'updated_at',
  'status',
  'ordered_at',
  'drug',
  'dose',
  'started_on',
  'last_given_at',
  'refills',
  'dosage',
].map((c) => `m.${c}`)

/**
 * A plaintext row in the types the declared table reads back as, so both sides
 * hand the application the same object: ids as strings, DATE as YYYY-MM-DD,
 * BIGINT as a number (the pool returns big numbers as strings), JSON parsed
 * (MariaDB's JSON is LONGTEXT and comes back as text).
 */
export function fromPlainRow(r: Record<string, unknown>): Medication {
  const dosage = r['dosage']
  return {
    id: rowIdToString(r['id'] as Buffer),
    patientId: rowIdToString(r['patient_id'] as Buffer),
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
    drug: r['drug'] as string,
    dose: r['dose'] as string,
    startedOn: (r['started_on'] as Date).toISOString().slice(0, 10),
    lastGivenAt: r['last_given_at'] as Date,
    refills: Number(r['refills']),
    dosage: (typeof dosage === 'string' ? JSON.parse(dosage) : dosage) as Dosage,
    status: r['status'] as Medication['status'],
    orderedAt: r['ordered_at'] as Date,
  }
}
