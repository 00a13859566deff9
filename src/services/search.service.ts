import { rowIdToString } from '../db/row-id.js'
import { AccessDeniedError, ValidationError } from '../errors/index.js'
import {
  selectRowsOfPatients,
  type PatientRows,
} from '../repositories/declared-rows.repository.js'
import type { PatientKeyGrantRow } from '../repositories/patient-key.row.js'
import { findCandidatesWithGrants } from '../repositories/search.repository.js'
import { lockUserById } from '../repositories/user.repository.js'
import type { Executor } from '../sql/prepared.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { partsOf, searchValueOf } from '../schema/index-values.js'
import type { OpenedRow } from '../schema/row-codec.js'
import type { DeclaredIndex } from '../schema/search-indexes.js'
import { appendAudit, type AuditAction } from './audit.service.js'
import { auditedTransaction } from './audited.js'
import { inTransaction } from './transaction.js'
import { fieldKeysOfGrant } from './patient-access.js'
import { requireFields, requireWellFormed } from './require-object.js'
import { takeSearchAllowance } from './search-allowance.js'
import { indexKeysOf } from './search-keys.js'
import type { UnlockedUser } from './unlocked-user.js'
import type { VaultContext } from './vault-context.js'

/**
 * Finding rows by a search index, in two stages (docs/search.md):
 *
 * 1. the index: the rows whose index column holds the searched value's (under
 *    the current search key, and the previous one during a rotation);
 * 2. the grants: of those, the rows of patients the session holds a grant for
 *    are opened and their values compared with the search, normalised; the
 *    others are dropped (a coarse index's collisions, or an index value a
 *    database writer copied from another row).
 *
 * Rows of patients outside the session's grants are never opened: the answer
 * counts their patients, and names them only to a `registrar` and only for an
 * exact index, whose matches are the value (up to its normalisers) rather than
 * candidates. Every search is one audit row (`search`: the table, the index and
 * the counts, never the searched value), plus a read row for each patient
 * whose rows it returns; and counts against the session's and the user's limit.
 */

export interface SearchOptions {
  /**
   * Refuse a coarse index: for a caller that relies on `elsewhere.patients`
   * counting true matches (an exact index), not candidates.
   */
  readonly exactOnly?: boolean
}

export interface SearchResult<Row> {
  readonly index: string
  readonly kind: 'exact' | 'coarse'
  /** The matching rows of patients the session holds a grant for, opened and checked. */
  readonly rows: Row[]
  /** Patients outside the session's grants with a row the index found. */
  readonly elsewhere: {
    /** How many: for an exact index, patients that match; for a coarse one, patients that may. */
    readonly patients: number
    /** Their ids, for a `registrar` searching an exact index; otherwise null. */
    readonly patientIds: string[] | null
  }
}

/** Beyond this many rows, stage one is refused: the search is too broad to be a lookup. */
export const MAX_SEARCH_CANDIDATES = 1000

function indexNamed(decl: TableDeclaration, name: unknown): DeclaredIndex {
  const index = decl.indexes.find((i) => i.name === name)
  if (typeof name !== 'string' || !index) {
    const names = decl.indexes.map((i) => i.name).join(', ')
    throw new ValidationError(
      'index',
      `must be a search index of table ${decl.name}` +
        (names ? ` (${names})` : ', which declares none'),
    )
  }
  return index
}

/** The query's own values, each a field of the index; another field is refused by name. */
function queryValues(index: DeclaredIndex, query: unknown): Record<string, unknown> {
  const values = requireFields(
    query,
    'query',
    index.fields.map((f) => f.name),
    `is not a field of index ${index.name} (${index.fields.map((f) => f.name).join(', ')})`,
  )
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') continue
    // A search value is typed at a desk: the bound keeps the normalisers'
    // cost (Double Metaphone) small; the check keeps lone surrogates out.
    if (value.length > MAX_SEARCH_CHARS) {
      throw new ValidationError(
        name,
        `must be at most ${MAX_SEARCH_CHARS} characters to search`,
      )
    }
    requireWellFormed(value, name)
  }
  return values
}

/** Longest search value, in UTF-16 units. */
const MAX_SEARCH_CHARS = 1000

/** A stage one that found too many rows: refused, audited and counted as a search. */
class TooBroadSearchError extends ValidationError {}

/**
 * The registrar rule: ids of patients outside the grants only for a unique
 * exact index of the patients table (a national id, an MRN), which finds the
 * person; never for a clinical table, whose index would tell which patients
 * have a diagnosis, nor for a coarse one, whose matches may be other people.
 */
function identifiesPatients(decl: TableDeclaration, index: DeclaredIndex): boolean {
  return decl.name === PATIENTS_TABLE && index.kind === 'exact' && index.unique
}

const PATIENTS_TABLE = 'patients'

function sameParts(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((part, i) => part === b[i])
}

/** What the two stages found, before any audit or limit. */
export interface Matches<Row> {
  /** Rows of granted patients, opened, that match the search. */
  readonly rows: Row[]
  /** The granted patients those rows belong to, in patient id order. */
  readonly readPatients: Buffer[]
  /** Granted rows opened and dropped: a coarse index's collisions, or a copied tag. */
  readonly dropped: number
  /** Patients outside the grants with a row stage one found (UUID strings). */
  readonly outside: string[]
}

/**
 * Stages one and two of a search, with no audit and no limit: the caller
 * (searchRows) brings both. Two statements whatever the number of candidates:
 * the index lookup joined with the user's grants, then one read opening every
 * granted candidate row, each patient's with its own keys.
 */
export async function findMatches<Row>(
  db: Executor,
  user: UnlockedUser,
  decl: TableDeclaration,
  index: DeclaredIndex,
  lookups: readonly (Buffer | number)[],
  wanted: readonly string[],
  toRow: (row: OpenedRow) => Row,
  extraColumns: readonly string[] = [],
): Promise<Matches<Row>> {
  const candidates = await findCandidatesWithGrants(
    db,
    decl,
    index,
    lookups,
    user.userIdBytes,
    MAX_SEARCH_CANDIDATES + 1,
  )
  if (candidates.length > MAX_SEARCH_CANDIDATES) {
    throw new TooBroadSearchError(
      'query',
      `matches more than ${MAX_SEARCH_CANDIDATES} rows of ${decl.name} by ${index.name}: give a narrower search`,
    )
  }
  // Per patient: the candidate row ids, and the user's grant (null: none).
  const byPatient = new Map<string, { ids: Buffer[]; grant: PatientKeyGrantRow | null }>()
  for (const c of candidates) {
    const pid = rowIdToString(c.patient_id)
    const found = byPatient.get(pid)
    if (found) found.ids.push(c.id)
    else byPatient.set(pid, { ids: [c.id], grant: c.grant })
  }
  const toOpen: PatientRows[] = []
  for (const { ids, grant } of byPatient.values()) {
    if (grant)
      toOpen.push({
        patientId: grant.patient_id,
        keys: await fieldKeysOfGrant(user, grant),
        ids,
      })
  }
  toOpen.sort((a, b) => Buffer.compare(a.patientId, b.patientId))
  const rows: Row[] = []
  const read = new Set<string>()
  let dropped = 0
  for (const row of await selectRowsOfPatients(db, decl, toOpen, extraColumns)) {
    const decoded = toRow(row)
    if (sameParts(partsOf(index, decoded as Record<string, unknown>), wanted)) {
      rows.push(decoded)
      read.add((row[decl.patientColumn] as Buffer).toString('hex'))
    } else dropped++
  }
  return {
    rows,
    readPatients: toOpen
      .map((p) => p.patientId)
      .filter((id) => read.has(id.toString('hex'))),
    dropped,
    outside: [...byPatient].filter(([, p]) => p.grant === null).map(([id]) => id),
  }
}

/** The index and the values a search looks up, checked (ValidationError otherwise). */
export function searchLookup(
  ctx: VaultContext,
  decl: TableDeclaration,
  indexName: unknown,
  query: unknown,
): { index: DeclaredIndex; lookups: (Buffer | number)[]; wanted: string[] } {
  const index = indexNamed(decl, indexName)
  const values = queryValues(index, query)
  return {
    index,
    lookups: indexKeysOf(ctx, decl).map((keys) =>
      searchValueOf(index, keys.get(index.name)!, values),
    ),
    wanted: partsOf(index, values)!,
  }
}

/**
 * Searches `decl` by its index `indexName` for `query` (the index's fields).
 * `toRow` turns an opened row into what the caller gets (a Patient, a row of
 * the declared table); `extraColumns` are read with it.
 */
export async function searchRows<Row>(
  ctx: VaultContext,
  user: UnlockedUser,
  decl: TableDeclaration,
  indexName: string,
  query: unknown,
  options: SearchOptions,
  toRow: (row: OpenedRow) => Row,
  extraColumns: readonly string[] = [],
): Promise<SearchResult<Row>> {
  user.privateKey() // an open, unexpired session, before any work
  const index = indexNamed(decl, indexName)
  const { exactOnly } = requireFields<SearchOptions>(options, 'options', ['exactOnly'])
  if (exactOnly !== undefined && typeof exactOnly !== 'boolean') {
    throw new ValidationError('options.exactOnly', 'must be a boolean')
  }
  if (exactOnly && index.kind !== 'exact') {
    throw new ValidationError(
      'index',
      `${index.name} is a coarse index: its matches are candidates, not an exact lookup`,
    )
  }
  const { lookups, wanted } = searchLookup(ctx, decl, indexName, query)
  const at = `${decl.name}.${index.name}`
  let dropped = 0
  const act = { actorUserId: user.userIdBytes, action: 'search', detail: at } as const
  return auditedTransaction(
    ctx,
    act,
    async (trx, record) => {
      // Locked: concurrent searches of one user count their allowance in turn.
      const me = await lockUserById(trx, user.userIdBytes)
      if (!me || me.disabled_at !== null) {
        throw new AccessDeniedError('search needs an enabled user')
      }
      await takeSearchAllowance(trx, ctx, user)
      const found = await findMatches(
        trx,
        user,
        decl,
        index,
        lookups,
        wanted,
        toRow,
        extraColumns,
      )
      dropped = found.dropped
      for (const patientId of found.readPatients) {
        record({
          actorUserId: user.userIdBytes,
          action: decl.auditActions.read as AuditAction,
          patientId,
          outcome: 'success',
          detail: `${decl.name} via search ${index.name}`,
        })
      }
      const registrar = me.roles.split(',').includes('registrar')
      return {
        index: index.name,
        kind: index.kind,
        rows: found.rows,
        elsewhere: {
          patients: found.outside.length,
          patientIds:
            registrar && identifiesPatients(decl, index) ? found.outside.sort() : null,
        },
      }
    },
    (result) => ({
      detail: `${at}: ${result.rows.length} found, ${dropped} dropped, ${result.elsewhere.patients} patients elsewhere`,
    }),
  ).catch(async (err: unknown) => {
    // Too broad says something about rows outside the grants (more than the
    // bound match): on the record, and counted against the user's allowance.
    if (err instanceof TooBroadSearchError) {
      await inTransaction(ctx.db, (trx) =>
        appendAudit(trx, ctx.auditKey, {
          ...act,
          outcome: 'failure',
          detail: `${at}: too_broad`,
        }),
      ).catch(() => undefined)
    }
    throw err
  })
}
