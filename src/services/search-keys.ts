import type { TableDeclaration } from '../schema/define-table.js'
import { deriveTableIndexKeys, type IndexKeys } from '../schema/index-values.js'
import type { VaultContext } from './vault-context.js'

/**
 * Each table's index keys, derived from the vault's search keys once (HKDF per
 * index) and kept for the vault's life, as the audit key is: the current key's
 * first (rows are written under it), then the previous key's during a rotation.
 */
const cache = new WeakMap<VaultContext, Map<string, readonly IndexKeys[]>>()

export function indexKeysOf(
  ctx: VaultContext,
  decl: TableDeclaration,
): readonly IndexKeys[] {
  let byTable = cache.get(ctx)
  if (!byTable) cache.set(ctx, (byTable = new Map()))
  let keys = byTable.get(decl.name)
  if (!keys) {
    keys = ctx.searchKeys.map((searchKey) => deriveTableIndexKeys(searchKey, decl))
    byTable.set(decl.name, keys)
  }
  return keys
}

/** The keys rows are written under: the current search key's. */
export function writeIndexKeysOf(ctx: VaultContext, decl: TableDeclaration): IndexKeys {
  return indexKeysOf(ctx, decl)[0]!
}
