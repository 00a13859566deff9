import type { Knex } from 'knex'
import { line, type PostureCheck } from './doctor-check.js'
import {
  formatAccount,
  parseAccount,
  readGrants,
  readOwnGrants,
  sameAccount,
  type AccountName,
  type AccountPrivileges,
  type GrantReading,
} from './doctor-grants.js'
import type { ServerFacts } from './doctor-server-facts.js'

/**
 * Two lines from the same grant reading (doctor-grants.ts lists the privileges
 * and why each counts):
 *
 * `watching_accounts`: accounts other than the application's that can see its
 * running statements, or switch a log on. WARN, FAIL in production mode: on a
 * development server root and its host variants (MariaDB creates root@::1,
 * root@127.0.0.1 and root@<hostname>) are such accounts, and that is expected
 * there; in production each such account can read keys in flight. WARN in both
 * modes when the grant tables cannot be read: a least-privilege application
 * account should not read them, so run the doctor as a DBA with `appUser`.
 *
 * `app_account_privileges`: the application's own account holding one of them.
 * WARN, FAIL in production mode (root as the application account on a
 * development server is the WARN case). Whoever holds the application's password
 * could then watch other accounts' statements or switch on the general log.
 */

export const WATCHING_ACCOUNTS = line(
  'watching_accounts',
  'No other account can watch running statements or switch logs on',
)
export const APP_ACCOUNT = line(
  'app_account_privileges',
  "The application's account is not an administrator",
)

const WATCH_FIX =
  'REVOKE PROCESS, SUPER (MySQL also SYSTEM_VARIABLES_ADMIN) and SELECT on ' +
  'performance_schema from every account that does not need them; monitoring ' +
  'accounts can use performance_schema digests through a view instead of the threads table.'

/** What PROCESS and SELECT on performance_schema.threads show, as checked per engine. */
const SEE: Record<ServerFacts['flavour'], string> = {
  mysql: 'see running statements with their parameters (keys) expanded',
  mariadb:
    'see running statements (MariaDB 11.8 showed prepared parameters as ?; other ' +
    'lines were not checked)',
}

function describe(list: readonly AccountPrivileges[]): string {
  return list
    .map((a) => `${formatAccount(a.account)} (${a.privileges.join(', ')})`)
    .join('; ')
}

export function watchingAccountsCheck(
  grants: GrantReading,
  app: AccountName,
  facts: ServerFacts,
  production: boolean,
): PostureCheck {
  const check = WATCHING_ACCOUNTS
  if (!grants.readable) {
    return check.warn(
      'Cannot check: this account may not read the grant tables (mysql.user, mysql.db, ' +
        'mysql.tables_priv, roles).',
      'Run the doctor with an account that can read the mysql schema and pass the ' +
        "application's account as appUser.",
    )
  }
  const others = grants.accounts.filter(
    (a) => !sameAccount(a.account, app) && a.privileges.length > 0,
  )
  if (others.length === 0) {
    return check.pass(
      `No account other than ${formatAccount(app)} holds PROCESS, SUPER, ` +
        'SYSTEM_VARIABLES_ADMIN or SELECT on performance_schema.threads (locked accounts and roles not counted).',
    )
  }
  return check.warnOrFail(
    production,
    `${others.length} other account(s) can ${SEE[facts.flavour]} or switch the general ` +
      `log on: ${describe(others)}.`,
    WATCH_FIX,
  )
}

/**
 * On MySQL an account sees its own running statements in SHOW PROCESSLIST
 * without PROCESS, parameters expanded (checked on 9.7 in test/doctor/): every
 * holder of the application's password can watch keys in flight, whatever its
 * grants. MariaDB 11.8 showed `?` there.
 */
function ownThreadsNote(facts: ServerFacts): string {
  return facts.flavour === 'mysql'
    ? ' Note: on MySQL every session of this account sees the running statements of ' +
        'the others, expanded (SHOW PROCESSLIST needs no PROCESS for them): keep its ' +
        'password as secret as the keys.'
    : ''
}

/** What is known of the application account's privileges, and from where. */
export type AppPrivileges =
  | {
      readonly kind: 'known'
      readonly privileges: readonly string[]
      /** False when read from information_schema (own rows): roles are not seen there. */
      readonly throughRoles: boolean
    }
  | { readonly kind: 'unreadable' }
  | { readonly kind: 'no-such-account' }

export function appAccountCheck(
  app: AccountName,
  known: AppPrivileges,
  facts: ServerFacts,
  production: boolean,
): PostureCheck {
  const check = APP_ACCOUNT
  const who = formatAccount(app)
  if (known.kind === 'unreadable') {
    return check.warn(
      `Cannot check ${who}: it is not the account running the doctor, and this one may not read the grant tables.`,
      "Run the doctor as the application's account, or with an account that can read the mysql schema.",
    )
  }
  if (known.kind === 'no-such-account') {
    return check.warn(
      `No unlocked account ${who} exists on this server.`,
      "Pass the application's account as appUser, as CURRENT_USER() writes it (user@host).",
    )
  }
  const scope = known.throughRoles
    ? ''
    : ' (direct grants; roles not visible to this account)'
  if (known.privileges.length === 0) {
    return check.pass(
      `${who} holds none of PROCESS, SUPER, SYSTEM_VARIABLES_ADMIN, SELECT on ` +
        `performance_schema.threads${scope}.${ownThreadsNote(facts)}`,
    )
  }
  return check.warnOrFail(
    production,
    `${who} holds ${known.privileges.join(', ')}: whoever has its password can watch other ` +
      `accounts' statements or switch the general log on.${ownThreadsNote(facts)}`,
    'Give the application an account of its own with only SELECT, INSERT, UPDATE, DELETE ' +
      `(and the migrations' DDL) on its schema; ${WATCH_FIX}`,
  )
}

/**
 * Both lines from one reading of the grant tables. `appUser` defaults to
 * CURRENT_USER(); when the grant tables cannot be read and the application's
 * account is the one running the doctor, its own rows in information_schema
 * still tell its direct privileges.
 */
export async function accountChecks(
  db: Knex,
  facts: ServerFacts,
  appUser: string | undefined,
  production: boolean,
): Promise<PostureCheck[]> {
  const [rows] = (await db.raw('SELECT CURRENT_USER() AS me')) as [{ me: string }[]]
  const self = parseAccount(rows[0]?.me ?? '')
  const app = appUser === undefined ? self : parseAccount(appUser)
  const grants = await readGrants(db, facts.flavour)
  let known: AppPrivileges
  if (grants.readable) {
    const entry = grants.accounts.find((a) => sameAccount(a.account, app))
    known = entry
      ? { kind: 'known', privileges: entry.privileges, throughRoles: true }
      : { kind: 'no-such-account' }
  } else if (sameAccount(app, self)) {
    known = {
      kind: 'known',
      privileges: await readOwnGrants(db, self),
      throughRoles: false,
    }
  } else {
    known = { kind: 'unreadable' }
  }
  return [
    watchingAccountsCheck(grants, app, facts, production),
    appAccountCheck(app, known, facts, production),
  ]
}
