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

/** How long a checked catalog is trusted without reading the schema again. */
const CATALOG_CHECK_TTL_MS = 60_000

/** Per vault: the catalog last checked against the schema, and when. */
const checkedCatalogs = new WeakMap<VaultContext, { key: string; at: number }>()

/**
 * Every table a rotation of a patient must re-encrypt: the registry and the
 * catalog, after checking the catalog against the schema (schema/catalog-check.ts).
 * The check reads information_schema; it is repeated when the catalog changes
 * and at most once a minute otherwise, so a rotate-all over many patients pays
 * it once.
 */
export async function rotationTables(
  db: Executor,
  ctx: VaultContext,
): Promise<EnvelopeTable[]> {
  const catalog = await listCatalog(db)
  const key = JSON.stringify(catalog)
  const last = checkedCatalogs.get(ctx)
  const now = Date.now()
  if (!last || last.key !== key || now - last.at > CATALOG_CHECK_TTL_MS) {
    await checkCatalogAgainstSchema(db, ctx.tables.values(), catalog)
    checkedCatalogs.set(ctx, { key, at: now })
  }
  return envelopeTablesOf(ctx.tables.values(), catalog)
}
