import type {
  ChangesOf,
  NewRowOf,
  PlainFieldOf,
  PlainValueOf,
  RowOf,
  TableDeclaration,
} from '../schema/define-table.js'
import * as rows from './declared-rows.service.js'
import { searchRows, type SearchOptions, type SearchResult } from './search.service.js'
import type { ListOptions } from './list-options.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/** `list` options, typed by the declaration. */
export interface ListRowsOptions<D> extends ListOptions {
  /** A value, a list of values (IN), or null (IS NULL) for a nullable field. */
  readonly where?: {
    readonly [K in PlainFieldOf<D>]?:
      PlainValueOf<D, K> | readonly NonNullable<PlainValueOf<D, K>>[]
  }
  readonly orderBy?: PlainFieldOf<D> | 'createdAt' | 'updatedAt'
}

export interface RowPage<D> {
  readonly rows: RowOf<D>[]
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: string | null
}

/**
 * The rows of one declared table, as one session sees them: `session.table(decl)`.
 * Every call is for one patient, checks the session's grant in the database,
 * and runs in one transaction with its audit row. Values come back in their
 * declared types.
 */
export class TableRepository<D extends TableDeclaration> {
  readonly #ctx: VaultContext
  readonly #user: UnlockedUser
  readonly #decl: D

  constructor(ctx: VaultContext, user: UnlockedUser, decl: D) {
    this.#ctx = ctx
    this.#user = user
    this.#decl = rows.registeredTable(ctx, decl) as D
  }

  /** Inserts a row for the patient; returns its id (a UUIDv7 made here). */
  insert(patientId: string, row: NewRowOf<D>): Promise<string> {
    return rows.insertRow(this.#ctx, this.#user, this.#decl, patientId, row)
  }

  /**
   * Rows of any patient by one of the table's search indexes (docs/search.md):
   * those of patients the session holds a grant for, opened and checked, and
   * how many other patients the index found.
   */
  search(
    index: string,
    query: Partial<NewRowOf<D>>,
    options: SearchOptions = {},
  ): Promise<SearchResult<RowOf<D>>> {
    return searchRows(this.#ctx, this.#user, this.#decl, index, query, options, (row) =>
      rows.decodeDeclaredRow(this.#decl, row),
    )
  }

  /** One row of the patient; NOT_FOUND if it is not theirs. */
  get(patientId: string, id: string): Promise<RowOf<D>> {
    return rows.getRow(this.#ctx, this.#user, this.#decl, patientId, id)
  }

  /** A page of the patient's rows, filtered and ordered on plain fields. */
  list(patientId: string, options: ListRowsOptions<D> = {}): Promise<RowPage<D>> {
    return rows.listRows(this.#ctx, this.#user, this.#decl, patientId, options)
  }

  /** Opens rows the application found with its own query, in the order of `ids`. */
  open(patientId: string, ids: readonly string[]): Promise<RowOf<D>[]> {
    return rows.openRows(this.#ctx, this.#user, this.#decl, patientId, ids)
  }

  /** Writes the given fields; the others keep their values. */
  update(patientId: string, id: string, changes: ChangesOf<D>): Promise<void> {
    return rows.updateRow(this.#ctx, this.#user, this.#decl, patientId, id, changes)
  }

  delete(patientId: string, id: string): Promise<void> {
    return rows.deleteRow(this.#ctx, this.#user, this.#decl, patientId, id)
  }
}
