import { ConfigurationError } from '../errors/index.js'
import { envelopeTablesOf } from '../repositories/envelope-tables.js'
import { CHART_TABLES } from '../schema/chart-tables.js'
import { listCatalog } from '../schema/catalog.js'
import type { TableDeclaration } from '../schema/define-table.js'
import type { Executor } from '../sql/prepared.js'
import type { EnvelopeTable } from '../sql/reseal-rows-sql.js'
import type { VaultContext } from './vault-context.js'

/** The chart's tables and the application's, by name; two of one name is a deployment mistake. */
export function tableRegistry(
  tables: readonly TableDeclaration[] | undefined,
): ReadonlyMap<string, TableDeclaration> {
  if (tables !== undefined && !Array.isArray(tables)) {
    throw new ConfigurationError(
      '"tables" must be an array of declarations (defineTable)',
    )
  }
  const registry = new Map<string, TableDeclaration>()
  for (const decl of [...CHART_TABLES, ...(tables ?? [])]) {
    if (
      typeof decl !== 'object' ||
      decl === null ||
      !Array.isArray(decl.encryptedFields)
    ) {
      throw new ConfigurationError(
        '"tables" must hold declarations made by defineTable()',
      )
    }
    if (registry.has(decl.name)) {
      throw new ConfigurationError(`table ${decl.name} is declared twice`)
    }
    registry.set(decl.name, decl)
  }
  return registry
}

/** Every table a rotation of a patient must re-encrypt: the registry and the catalog. */
export async function rotationTables(
  db: Executor,
  ctx: VaultContext,
): Promise<EnvelopeTable[]> {
  return envelopeTablesOf(ctx.tables.values(), await listCatalog(db))
}
