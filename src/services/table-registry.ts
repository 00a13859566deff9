import { ConfigurationError } from '../errors/index.js'
import { envelopeTablesOf } from '../repositories/envelope-tables.js'
import { CHART_TABLES } from '../schema/chart-tables.js'
import { listCatalog } from '../schema/catalog.js'
import { checkCatalogAgainstSchema } from '../schema/catalog-check.js'
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

/**
 * Every table a rotation of a patient must re-encrypt: the registry and the
 * catalog, after checking the catalog against the schema (schema/catalog-check.ts).
 * The check reads information_schema. A rotate-all passes `checked`, the
 * catalogs it has already checked in this run, so it pays the check once, and
 * again only if the catalog changes; one rotation or revoke always checks.
 */
export async function rotationTables(
  db: Executor,
  ctx: VaultContext,
  checked?: Set<string>,
): Promise<EnvelopeTable[]> {
  const catalog = await listCatalog(db)
  const key = JSON.stringify(catalog)
  if (!checked?.has(key)) {
    await checkCatalogAgainstSchema(db, ctx.tables.values(), catalog)
    checked?.add(key)
  }
  return envelopeTablesOf(ctx.tables.values(), catalog)
}
