import { ValidationError } from '../errors/index.js'
import { dropColumnIfEmpty } from '../repositories/conversion.repository.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { appendAudit } from './audit.service.js'
import {
  requireColumns,
  requireDeclaration,
  requireUndeclaredColumn,
} from './conversion-target.js'
import { requireRole } from './roles.js'
import { inTransaction } from './transaction.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/**
 * The last step of a conversion, explicit and separate: drops the column
 * converted from (a plaintext column, or a legacy one) once no row holds a value
 * in it. Refused, with nothing changed, while any row does (the conversion has
 * not finished, or something wrote the old column since), and while `table`
 * still names it in `convertingFrom`: the application reading with that
 * declaration would select a column that is gone. Deploy the declaration
 * without it first. The drop is DDL, which commits on its own; its audit row
 * follows it.
 */
export async function dropPlaintextColumn(
  ctx: VaultContext,
  admin: UnlockedUser,
  table: TableDeclaration,
  column: string,
): Promise<{ table: string; column: string }> {
  const declaration = requireDeclaration(table)
  const name = requireUndeclaredColumn(declaration, column, 'column')
  const reading = Object.entries(declaration.convertingFrom).find(([, c]) => c === name)
  if (reading) {
    throw new ValidationError(
      'column',
      `is still read by ${declaration.name} (convertingFrom.${reading[0]}): deploy the declaration without it, then drop`,
    )
  }
  await requireRole(ctx.db, admin, 'admin', 'convert.drop')
  const field = declaration.encryptedFields[0]!
  await requireColumns(ctx.db, declaration, field, name, 'column')
  if (!(await dropColumnIfEmpty(ctx.db, declaration.name, name))) {
    throw new ValidationError(
      'column',
      `${declaration.name}.${name} still holds values: finish the conversion first`,
    )
  }
  await inTransaction(ctx.db, (trx) =>
    appendAudit(trx, ctx.auditKey, {
      actorUserId: admin.userIdBytes,
      action: 'convert.drop',
      outcome: 'success',
      detail: `table=${declaration.name} column=${name} dropped`,
    }),
  )
  return { table: declaration.name, column: name }
}
