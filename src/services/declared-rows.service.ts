import type { Knex } from 'knex'
import { newRowId, rowIdFromString, rowIdToString } from '../db/row-id.js'
import { NotFoundError, ValidationError } from '../errors/index.js'
import {
  deleteDeclaredRow,
  insertDeclaredRow,
  selectDeclaredRows,
  updateDeclaredRow,
  type RowQuery,
} from '../repositories/declared-rows.repository.js'
import { selectChartRows } from '../repositories/chart-state.repository.js'
import type { RowOf, TableDeclaration } from '../schema/define-table.js'
import { plaintextValue } from '../schema/plaintext-source.js'
import { decodeRow, encodeRow, type OpenedRow } from '../schema/row-codec.js'
import { indexesOfChanges, indexesOfNewRow, uniqueIndexError } from './row-indexes.js'
import type { SqlFieldKeys } from '../sql/envelope-sql.js'
import { auditedTransaction } from './audited.js'
import { recordingDuplicates } from './duplicate-values.js'
import { chartTableOf, trackChartChange } from './chart-state.service.js'
import type { AuditAction } from './audit.service.js'
import { listQuery, nextCursor, type ListOptions } from './list-options.js'
import { patientFieldKeys } from './patient-access.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/**
 * The acts on the rows of a declared table, each for one patient, each in one
 * transaction with its audit row: the grant checked in the database, the
 * patient's subkeys bound to the statement that seals or opens.
 */

/** The registered declaration, or a ValidationError: rotation covers only those. */
export function registeredTable(
  ctx: VaultContext,
  decl: TableDeclaration,
): TableDeclaration {
  const name = (decl as { name?: unknown } | null)?.name
  if (typeof name !== 'string' || ctx.tables.get(name) !== decl) {
    throw new ValidationError(
      'table',
      'must be a declaration passed to createVault({ tables }) (rotation covers only those)',
    )
  }
  return decl
}

function act(user: UnlockedUser, action: string, patientId: Buffer, detail: string) {
  return {
    actorUserId: user.userIdBytes,
    action: action as AuditAction,
    patientId,
    detail,
  } as const
}

export function decodeDeclaredRow<D extends TableDeclaration>(
  decl: D,
  row: OpenedRow,
): RowOf<D> {
  return decodeRow(decl, row, (def, raw) =>
    plaintextValue(def, raw, 'plaintext'),
  ) as RowOf<D>
}

export async function insertRow(
  ctx: VaultContext,
  user: UnlockedUser,
  decl: TableDeclaration,
  patientId: string,
  input: unknown,
): Promise<string> {
  const pid = rowIdFromString(patientId, 'patientId')
  const { plain, encrypted } = encodeRow(decl, input, false)
  const indexes = indexesOfNewRow(ctx, decl, input)
  const id = newRowId()
  const rowId = rowIdToString(id)
  await recordingDuplicates(
    ctx,
    user,
    auditedTransaction(
      ctx,
      act(user, decl.auditActions.create, pid, `${decl.name} ${rowId}`),
      async (trx) => {
        // FOR SHARE holds off a rotation until this row is written under the current key.
        const keys = await patientFieldKeys(trx, user, pid, true)
        const row = await insertDeclaredRow(
          trx,
          decl,
          { id, patientId: pid },
          plain,
          encrypted,
          keys,
          indexes,
        ).catch((err: unknown) => {
          throw uniqueIndexError(decl, err)
        })
        await trackChartChange(trx, ctx.auditKey, pid, [], [row])
      },
    ),
  )
  return rowId
}

export async function getRow<D extends TableDeclaration>(
  ctx: VaultContext,
  user: UnlockedUser,
  decl: D,
  patientId: string,
  rowId: string,
): Promise<RowOf<D>> {
  const pid = rowIdFromString(patientId, 'patientId')
  const id = rowIdFromString(rowId, 'id')
  const row = await auditedTransaction(
    ctx,
    act(user, decl.auditActions.read, pid, `${decl.name} ${rowId}`),
    async (trx) => {
      const keys = await patientFieldKeys(trx, user, pid)
      const [found] = await selectDeclaredRows(trx, decl, pid, keys, { ids: [id] })
      // Thrown here, before the success row: the audit row says not_found.
      if (!found) throw new NotFoundError(decl.name, rowId)
      return found
    },
  )
  return decodeDeclaredRow(decl, row)
}

export async function listRows<D extends TableDeclaration>(
  ctx: VaultContext,
  user: UnlockedUser,
  decl: D,
  patientId: string,
  options: ListOptions = {},
): Promise<{ rows: RowOf<D>[]; next: string | null }> {
  const pid = rowIdFromString(patientId, 'patientId')
  const query = listQuery(decl, options)
  const rows = await auditedTransaction(
    ctx,
    act(user, decl.auditActions.list, pid, decl.name),
    async (trx) => {
      const keys = await patientFieldKeys(trx, user, pid)
      return selectDeclaredRows(trx, decl, pid, keys, query.sql)
    },
    (rows) => ({ detail: `${decl.name}: ${Math.min(rows.length, query.limit)} rows` }),
  )
  const next = nextCursor(query, rows) // drops the look-ahead row
  return { rows: rows.map((r) => decodeDeclaredRow(decl, r)), next }
}

/**
 * Opens rows the application found with a query of its own (on plain columns):
 * the rows with these ids, of this patient, in the order given. An id that is
 * not a row of this patient is NOT_FOUND, and nothing is returned.
 */
export async function openRows<D extends TableDeclaration>(
  ctx: VaultContext,
  user: UnlockedUser,
  decl: D,
  patientId: string,
  rowIds: readonly string[],
): Promise<RowOf<D>[]> {
  const pid = rowIdFromString(patientId, 'patientId')
  if (!Array.isArray(rowIds) || rowIds.length === 0 || rowIds.length > 1000) {
    throw new ValidationError('ids', 'must be an array of 1 to 1000 row ids')
  }
  const ids = rowIds.map((id, i) => rowIdFromString(id, `ids[${i}]`))
  const rows = await auditedTransaction(
    ctx,
    act(user, decl.auditActions.open, pid, decl.name),
    async (trx) => {
      const keys = await patientFieldKeys(trx, user, pid)
      const found = await selectDeclaredRows(trx, decl, pid, keys, { ids })
      const byId = new Map(found.map((r) => [rowIdToString(r.id), r]))
      // Every id found before the success row is written, else the row says not_found.
      return rowIds.map((rowId) => {
        const row = byId.get(rowId.toLowerCase())
        if (!row) throw new NotFoundError(decl.name, rowId)
        return row
      })
    },
    (rows) => ({ detail: `${decl.name}: ${rows.length} rows` }),
  )
  return rows.map((row) => decodeDeclaredRow(decl, row))
}

/**
 * Updates a row and moves the chart state with it: the row's IVs read (and the
 * row locked) first, since the columns not written keep theirs.
 *
 * @returns whether the row (of this patient) existed
 */
export async function updateTracked(
  trx: Knex.Transaction,
  ctx: VaultContext,
  decl: TableDeclaration,
  patientId: Buffer,
  id: Buffer,
  plain: Record<string, unknown>,
  encrypted: Record<string, Buffer | null>,
  keys: SqlFieldKeys,
  changes: unknown,
): Promise<boolean> {
  const [before] = await selectChartRows(trx, chartTableOf(decl), patientId, {
    ids: [id],
    forUpdate: true,
  })
  if (!before) return false
  const indexes = await indexesOfChanges(trx, ctx, decl, patientId, id, changes, keys)
  const written = await updateDeclaredRow(
    trx,
    decl,
    patientId,
    id,
    plain,
    encrypted,
    keys,
    indexes,
  ).catch((err: unknown) => {
    throw uniqueIndexError(decl, err)
  })
  if (!written.found) return false
  const after = { ...before, ivs: { ...before.ivs, ...written.ivs } }
  await trackChartChange(trx, ctx.auditKey, patientId, [before], [after])
  return true
}

export async function updateRow(
  ctx: VaultContext,
  user: UnlockedUser,
  decl: TableDeclaration,
  patientId: string,
  rowId: string,
  changes: unknown,
): Promise<void> {
  const pid = rowIdFromString(patientId, 'patientId')
  const id = rowIdFromString(rowId, 'id')
  const { plain, encrypted } = encodeRow(decl, changes, true)
  await recordingDuplicates(
    ctx,
    user,
    auditedTransaction(
      ctx,
      act(user, decl.auditActions.update, pid, `${decl.name} ${rowId}`),
      async (trx) => {
        const keys = await patientFieldKeys(trx, user, pid, true)
        if (
          !(await updateTracked(trx, ctx, decl, pid, id, plain, encrypted, keys, changes))
        ) {
          throw new NotFoundError(decl.name, rowId)
        }
      },
    ),
  )
}

export async function deleteRow(
  ctx: VaultContext,
  user: UnlockedUser,
  decl: TableDeclaration,
  patientId: string,
  rowId: string,
): Promise<void> {
  const pid = rowIdFromString(patientId, 'patientId')
  const id = rowIdFromString(rowId, 'id')
  await auditedTransaction(
    ctx,
    act(user, decl.auditActions.delete, pid, `${decl.name} ${rowId}`),
    async (trx) => {
      await patientFieldKeys(trx, user, pid, true)
      const [before] = await selectChartRows(trx, chartTableOf(decl), pid, {
        ids: [id],
        forUpdate: true,
      })
      if (!before || !(await deleteDeclaredRow(trx, decl, pid, id))) {
        throw new NotFoundError(decl.name, rowId)
      }
      await trackChartChange(trx, ctx.auditKey, pid, [before], [])
    },
  )
}

export type { RowQuery }
