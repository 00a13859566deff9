import type { Knex } from 'knex'
import type { ServerFlavour } from '../db/index.js'

/**
 * Which accounts hold a privilege that shows them, or lets them show themselves,
 * the statements the application runs, with prepared-statement parameters (keys)
 * expanded. Checked on this project's servers (test/doctor/):
 *
 * - `PROCESS`: SHOW PROCESSLIST / information_schema.PROCESSLIST list every
 *   account's running statements. MySQL 9.7 shows prepared parameters expanded
 *   there; MariaDB 11.8.9 showed `?`, but older MariaDB lines were not checked,
 *   so PROCESS counts on both engines.
 * - `SELECT` on performance_schema.threads (directly, through performance_schema.*,
 *   or globally): on MySQL 9.7 its PROCESSLIST_INFO column shows every account's
 *   running statement, expanded, without PROCESS (the manual says the same).
 * - `SUPER`, MySQL `SYSTEM_VARIABLES_ADMIN`: can switch the general log on.
 *
 * Read from the grant tables (mysql.user, mysql.db, mysql.tables_priv, roles),
 * not information_schema: MariaDB's USER_PRIVILEGES leaves out roles' global
 * privileges. Privileges reached through roles count, whether or not the role
 * is a default one (SET ROLE activates any granted role).
 */

export interface AccountName {
  readonly user: string
  readonly host: string
}

/** `'user'@'host'`, as the server writes accounts. */
export function formatAccount(account: AccountName): string {
  return `'${account.user}'@'${account.host}'`
}

/**
 * Parses `user@host`, `'user'@'host'` or `` `user`@`host` `` (as CURRENT_USER()
 * or a configuration gives it). The host defaults to `%`.
 */
export function parseAccount(text: string): AccountName {
  const at = text.lastIndexOf('@')
  const unquote = (s: string) => s.trim().replace(/^(['`"])(.*)\1$/, '$2')
  return at < 0
    ? { user: unquote(text), host: '%' }
    : { user: unquote(text.slice(0, at)), host: unquote(text.slice(at + 1)) }
}

export function sameAccount(a: AccountName, b: AccountName): boolean {
  // User names are case-sensitive, host names are not (MySQL manual, "Account Names").
  return a.user === b.user && a.host.toLowerCase() === b.host.toLowerCase()
}

export interface AccountPrivileges {
  readonly account: AccountName
  /** Privileges of interest, own or through roles, e.g. `PROCESS`, `SELECT on performance_schema.threads`. */
  readonly privileges: readonly string[]
}

/** Every account that can log in (not locked, not a role), with its privileges of interest. */
export type GrantReading =
  | { readonly readable: true; readonly accounts: readonly AccountPrivileges[] }
  | { readonly readable: false }

interface GrantRow {
  user: string
  host: string
}
interface UserRow extends GrantRow {
  process: string
  super: string
  sel: string
  locked: string | number
  isRole: string
}
interface EdgeRow extends GrantRow {
  roleUser: string
  roleHost: string
}

const THREADS = 'performance_schema.threads'

/** Errors meaning "this account may not read the grant tables". */
const ACCESS_DENIED = new Set([
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1143, // ER_COLUMNACCESS_DENIED_ERROR
  1044, // ER_DBACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR
])

export function isAccessDenied(err: unknown): boolean {
  const errno = (err as { errno?: unknown } | null)?.errno
  return typeof errno === 'number' && ACCESS_DENIED.has(errno)
}

async function rows<T>(db: Knex, sql: string): Promise<T[]> {
  const [result] = (await db.raw(sql)) as [T[]]
  return result
}

const USERS_SQL: Record<ServerFlavour, string> = {
  mysql:
    'SELECT User AS user, Host AS host, Process_priv AS process, Super_priv AS super, ' +
    "Select_priv AS sel, account_locked = 'Y' AS locked, 'N' AS isRole FROM mysql.user",
  mariadb:
    'SELECT u.User AS user, u.Host AS host, u.Process_priv AS process, u.Super_priv AS super, ' +
    "u.Select_priv AS sel, COALESCE(JSON_VALUE(g.Priv, '$.account_locked'), '0') IN ('1', 'true') AS locked, " +
    'u.is_role AS isRole FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host',
}

const EDGES_SQL: Record<ServerFlavour, string> = {
  mysql:
    'SELECT FROM_USER AS roleUser, FROM_HOST AS roleHost, TO_USER AS user, TO_HOST AS host FROM mysql.role_edges',
  // MariaDB roles have an empty host.
  mariadb:
    "SELECT Role AS roleUser, '' AS roleHost, User AS user, Host AS host FROM mysql.roles_mapping",
}

/** Reads the grant tables; `readable: false` when this account may not. */
export async function readGrants(
  db: Knex,
  flavour: ServerFlavour,
): Promise<GrantReading> {
  try {
    const [users, dynamic, schemaGrants, tableGrants, edges] = await Promise.all([
      rows<UserRow>(db, USERS_SQL[flavour]),
      flavour === 'mysql'
        ? rows<GrantRow>(
            db,
            "SELECT USER AS user, HOST AS host FROM mysql.global_grants WHERE PRIV = 'SYSTEM_VARIABLES_ADMIN'",
          )
        : [],
      // Db may be a pattern (`performance\_schema`, `%`): match it as the server does.
      rows<GrantRow>(
        db,
        "SELECT User AS user, Host AS host FROM mysql.db WHERE Select_priv = 'Y' AND 'performance_schema' LIKE Db",
      ),
      rows<GrantRow>(
        db,
        "SELECT User AS user, Host AS host FROM mysql.tables_priv WHERE Db = 'performance_schema' " +
          "AND Table_name = 'threads' AND FIND_IN_SET('Select', Table_priv) > 0",
      ),
      rows<EdgeRow>(db, EDGES_SQL[flavour]),
    ])
    const own = new Grants()
    for (const u of users) {
      if (u.process === 'Y') own.add(u, 'PROCESS')
      if (u.super === 'Y') own.add(u, 'SUPER')
      if (u.sel === 'Y') own.add(u, `SELECT on *.* (includes ${THREADS})`)
    }
    for (const g of dynamic) own.add(g, 'SYSTEM_VARIABLES_ADMIN')
    for (const g of schemaGrants) {
      own.add(g, `SELECT on performance_schema.* (includes ${THREADS})`)
    }
    for (const g of tableGrants) own.add(g, `SELECT on ${THREADS}`)
    for (const e of edges) own.addRole(e, { user: e.roleUser, host: e.roleHost })
    const accounts = users
      .filter((u) => !Number(u.locked) && u.isRole !== 'Y')
      .map((u) => ({
        account: { user: u.user, host: u.host },
        privileges: own.effective(u),
      }))
    return { readable: true, accounts }
  } catch (err) {
    if (isAccessDenied(err)) return { readable: false }
    throw err
  }
}

/** Privileges granted to accounts and roles, and which roles each holds. */
class Grants {
  readonly #own = new Map<string, Set<string>>()
  readonly #roles = new Map<string, string[]>()

  add(grantee: GrantRow, privilege: string): void {
    const k = key(grantee)
    this.#own.set(k, (this.#own.get(k) ?? new Set()).add(privilege))
  }

  addRole(grantee: GrantRow, role: GrantRow): void {
    const k = key(grantee)
    this.#roles.set(k, [...(this.#roles.get(k) ?? []), key(role)])
  }

  /** Own privileges plus those of every role reachable from `grantee`, sorted. */
  effective(grantee: GrantRow): string[] {
    const seen = new Set([key(grantee)])
    const found = new Set<string>()
    for (const k of seen) {
      // A Set iterates over members added during the loop: a breadth-first walk.
      for (const p of this.#own.get(k) ?? []) found.add(p)
      for (const role of this.#roles.get(k) ?? []) seen.add(role)
    }
    return [...found].sort()
  }
}

function key(a: GrantRow): string {
  return `${a.user}@${a.host.toLowerCase()}`
}

/**
 * The privileges of interest the current account holds directly, from
 * information_schema, which shows an account its own rows without any grant on
 * the mysql schema. Privileges through roles are not seen this way.
 */
export async function readOwnGrants(db: Knex, self: AccountName): Promise<string[]> {
  const grantee = formatAccount(self)
  const [global, schema, table] = await Promise.all([
    db.raw(
      'SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES ' +
        "WHERE GRANTEE = ? AND PRIVILEGE_TYPE IN ('PROCESS', 'SUPER', 'SYSTEM_VARIABLES_ADMIN', 'SELECT')",
      [grantee],
    ),
    db.raw(
      'SELECT 1 AS x FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? ' +
        "AND PRIVILEGE_TYPE = 'SELECT' AND 'performance_schema' LIKE TABLE_SCHEMA",
      [grantee],
    ),
    db.raw(
      'SELECT 1 AS x FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ? ' +
        "AND PRIVILEGE_TYPE = 'SELECT' AND TABLE_SCHEMA = 'performance_schema' AND TABLE_NAME = 'threads'",
      [grantee],
    ),
  ])
  const found = (global as [{ privilege: string }[]])[0].map((r) =>
    r.privilege === 'SELECT' ? `SELECT on *.* (includes ${THREADS})` : r.privilege,
  )
  if ((schema as [unknown[]])[0].length > 0) {
    found.push(`SELECT on performance_schema.* (includes ${THREADS})`)
  }
  if ((table as [unknown[]])[0].length > 0) found.push(`SELECT on ${THREADS}`)
  return found.sort()
}
