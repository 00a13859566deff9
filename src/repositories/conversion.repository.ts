import type { Knex } from 'knex'
import { executeWrite, sanitise, selectRows, type Executor } from '../sql/prepared.js'

/**
 * SQL of the conversions that bring existing data into a declared table: a
 * source column (plaintext, or a legacy `AES_ENCRYPT` ciphertext) is read row by
 * row and replaced by the envelope of its field. Where the conversion stands is
 * in the rows themselves: a row still to do is one whose source is NOT NULL, and
 * the UPDATE that writes the envelope sets the source to NULL, so a run killed at
 * any point resumes by running again. Identifiers come from a checked declaration
 * and a checked column name (services/conversion-target.ts); knex quotes them.
 */
export interface ConversionSpec {
  readonly table: string
  readonly patientColumn: string
  /** The envelope column of the field. */
  readonly envelopeColumn: string
  /** The column converted from. */
  readonly sourceColumn: string
}

/** A row still holding a source value. */
export interface SourceRow {
  readonly id: Buffer
  readonly source: unknown
  /** True when the row already has an envelope (written since): only the source is cleared. */
  readonly sealed: boolean
}

/**
 * Columns of `table` in the current database.
 *
 *   SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
 *    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
 */
export async function listTableColumns(db: Executor, table: string): Promise<string[]> {
  const rows = await selectRows<{ name: string }>(
    db,
    db
      .select({ name: 'COLUMN_NAME' })
      .from('information_schema.COLUMNS')
      .where('TABLE_SCHEMA', db.raw('DATABASE()'))
      .andWhere('TABLE_NAME', table),
    'list table columns',
  )
  return rows.map((r) => r.name)
}

/**
 * Patients with a source value still to convert, in id order after `after`.
 *
 *   SELECT DISTINCT `patient_id` AS patient FROM `t`
 *    WHERE `source` IS NOT NULL AND `patient_id` > ? ORDER BY patient LIMIT ?
 */
export async function listPatientsWithSource(
  db: Executor,
  spec: ConversionSpec,
  after: Buffer,
  limit: number,
): Promise<Buffer[]> {
  const rows = await selectRows<{ patient: Buffer }>(
    db,
    db(spec.table)
      .distinct({ patient: spec.patientColumn })
      .whereNotNull(spec.sourceColumn)
      .andWhere(spec.patientColumn, '>', after)
      .orderBy('patient')
      .limit(limit),
    'list patients to convert',
  )
  return rows.map((r) => r.patient)
}

/**
 * How many patients and rows hold a source value.
 *
 *   SELECT COUNT(DISTINCT `patient_id`) AS patients, COUNT(*) AS rows FROM `t`
 *    WHERE `source` IS NOT NULL
 */
export async function countSourceValues(
  db: Executor,
  spec: ConversionSpec,
): Promise<{ patients: number; rows: number }> {
  const [row] = await selectRows<{ patients: number | string; rows: number | string }>(
    db,
    db(spec.table)
      .select(
        db.raw('COUNT(DISTINCT ??) AS patients', [spec.patientColumn]),
        db.raw('COUNT(*) AS `rows`'),
      )
      .whereNotNull(spec.sourceColumn),
    'count values to convert',
  )
  return { patients: Number(row?.patients ?? 0), rows: Number(row?.rows ?? 0) }
}

/**
 * One patient's rows with a source value, locked until the transaction ends.
 *
 *   SELECT `id`, `source` AS source, (`env` IS NOT NULL) AS sealed FROM `t`
 *    WHERE `patient_id` = ? AND `source` IS NOT NULL ORDER BY `id` FOR UPDATE
 */
export async function lockSourceRows(
  db: Executor,
  spec: ConversionSpec,
  patientId: Buffer,
  forUpdate = true,
): Promise<SourceRow[]> {
  const query = db(spec.table)
    .select('id', { source: spec.sourceColumn })
    .select(db.raw('(?? IS NOT NULL) AS sealed', [spec.envelopeColumn]))
    .where(spec.patientColumn, patientId)
    .whereNotNull(spec.sourceColumn)
    .orderBy('id')
  const rows = await selectRows<{ id: Buffer; source: unknown; sealed: unknown }>(
    db,
    forUpdate ? query.forUpdate() : query,
    'lock rows to convert',
  )
  // A boolean expression comes back as a BIGINT, i.e. the string '0' or '1' (bigNumberStrings).
  return rows.map((r) => ({ id: r.id, source: r.source, sealed: Number(r.sealed) === 1 }))
}

/**
 * Writes a row's envelope and clears its source in one statement; with
 * `envelope` undefined (the row already had one) only clears the source.
 *
 *   UPDATE `t` SET `env` = (SELECT … AES_ENCRYPT(?, ?, ?) …), `source` = NULL
 *    WHERE `id` = ? AND `patient_id` = ?
 */
export async function replaceSource(
  db: Executor,
  spec: ConversionSpec,
  patientId: Buffer,
  rowId: Buffer,
  envelope: Knex.Raw | undefined,
): Promise<number> {
  const set: Record<string, Knex.Raw | null> = { [spec.sourceColumn]: null }
  if (envelope !== undefined) set[spec.envelopeColumn] = envelope
  const { affectedRows } = await executeWrite(
    db,
    db(spec.table)
      .update(set)
      .where({ id: rowId, [spec.patientColumn]: patientId }),
    'seal converted value',
  )
  return affectedRows
}

/**
 * Whether any row of `table` still holds a value in `column`.
 *
 *   SELECT 1 AS found FROM `t` WHERE `column` IS NOT NULL LIMIT 1
 */
export async function anyValueIn(
  db: Executor,
  table: string,
  column: string,
): Promise<boolean> {
  const rows = await selectRows(
    db,
    db(table).select(db.raw('1 AS found')).whereNotNull(column).limit(1),
    'find values left',
  )
  return rows.length > 0
}

/**
 * Drops `column` from `table` if no row holds a value in it, with the table
 * locked from the check to the drop, so no writer can put a value in between:
 *
 *   LOCK TABLES `t` WRITE
 *   SELECT 1 FROM `t` WHERE `column` IS NOT NULL LIMIT 1
 *   ALTER TABLE `t` DROP COLUMN `column`      -- only when the SELECT found nothing
 *   UNLOCK TABLES
 *
 * On a connection of its own and through knex's text protocol: LOCK TABLES is
 * not in the prepared-statement protocol, and these statements carry no values
 * (identifiers only, quoted by knex). Returns false, dropping nothing, when a
 * value was found.
 */
export async function dropColumnIfEmpty(
  db: Knex,
  table: string,
  column: string,
): Promise<boolean> {
  let step = 'lock table to drop a column'
  let connection: unknown
  try {
    connection = await db.client.acquireConnection()
    const on = (sql: string, bindings: string[] = []) =>
      db.raw(sql, bindings).connection(connection) as unknown as Promise<[unknown[]]>
    await on('LOCK TABLES ?? WRITE', [table])
    try {
      step = 'find values left'
      const [found] = await on('SELECT 1 AS found FROM ?? WHERE ?? IS NOT NULL LIMIT 1', [
        table,
        column,
      ])
      if (found.length > 0) return false
      step = 'drop column'
      await on('ALTER TABLE ?? DROP COLUMN ??', [table, column])
      return true
    } finally {
      await on('UNLOCK TABLES')
    }
  } catch (err) {
    throw sanitise(err, step)
  } finally {
    if (connection !== undefined) await db.client.releaseConnection(connection)
  }
}
