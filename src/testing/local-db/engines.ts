/**
 * The two engines we can run, and where each comes from. Both are resolved by
 * package NAME from a moving Debian suite (never a pinned version): whatever the
 * mirror has on the day of the first download is what this clone gets, and the
 * version is logged (docs/testing.md says why no pinned version exists).
 */

export type Engine = 'mysql' | 'mariadb'

export const ENGINES: readonly Engine[] = ['mysql', 'mariadb']

export interface EngineSpec {
  engine: Engine
  /** For messages: 'MySQL', 'MariaDB'. */
  label: string
  /** Debian suite: sid has Oracle MySQL 9.x; trixie (stable) has MariaDB 11.8. */
  suite: string
  serverPackage: string
  clientPackage: string
  /** Paths inside the private root. */
  serverBinary: string
  clientBinary: string
  /** --lc-messages-dir: where errmsg.sys lives in the Debian packages. */
  messagesDir: string
}

export const ENGINE_SPECS: Record<Engine, EngineSpec> = {
  mysql: {
    engine: 'mysql',
    label: 'MySQL',
    suite: 'sid',
    serverPackage: 'mysql-server-core',
    clientPackage: 'mysql-client-core',
    serverBinary: 'usr/sbin/mysqld',
    clientBinary: 'usr/bin/mysql',
    messagesDir: 'usr/share/mysql',
  },
  mariadb: {
    engine: 'mariadb',
    label: 'MariaDB',
    suite: 'trixie',
    serverPackage: 'mariadb-server-core',
    clientPackage: 'mariadb-client-core',
    serverBinary: 'usr/sbin/mariadbd',
    clientBinary: 'usr/bin/mariadb',
    messagesDir: 'usr/share/mariadb',
  },
}

/** For callers in plain JavaScript, whose engine argument the compiler did not check. */
export function assertEngine(engine: string): asserts engine is Engine {
  if (!(ENGINES as readonly string[]).includes(engine)) {
    throw new Error(
      `Unknown engine ${JSON.stringify(engine)}; allowed values: ${ENGINES.join(', ')}.`,
    )
  }
}

/** EMR_VAULT_ENGINE=mysql|mariadb, default mysql. */
export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): Engine {
  const value = env.EMR_VAULT_ENGINE
  if (value === undefined || value === '') return 'mysql'
  if ((ENGINES as readonly string[]).includes(value)) return value as Engine
  throw new Error(
    `EMR_VAULT_ENGINE=${JSON.stringify(value)} is not an engine we can run locally; ` +
      `allowed values: ${ENGINES.join(', ')} (unset means mysql).`,
  )
}

/** '9.7.4-2' -> '9.7.4'; '11.8.9-MariaDB-0+deb13u1' -> '11.8.9'. */
export function shortVersion(text: string): string {
  const match = /(\d+\.\d+\.\d+)/.exec(text)
  if (!match?.[1])
    throw new Error(`Cannot read a version number from ${JSON.stringify(text)}`)
  return match[1]
}

/** '9.7.4' -> '9.7': a datadir is only reused by the same major.minor. */
export function majorMinor(version: string): string {
  return version.split('.').slice(0, 2).join('.')
}
