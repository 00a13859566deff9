/**
 * `emr-vault/testing`: what an application's integration tests need from
 * emr-vault, and what this project's own tests, demo and `emr-vault db`
 * commands use.
 *
 * A real MySQL (or MariaDB) without Docker: the Debian packages of the server
 * are downloaded once into `~/.cache/emr-vault/<engine>`, unpacked into a
 * private folder (nothing is installed system-wide) and run on a free loopback
 * port, with its state in `<cwd>/.emr-vault/<engine>` unless `stateDir` says
 * otherwise. Debian's own MariaDB 10.11 cannot be used: its AES_ENCRYPT takes
 * no IV. MySQL comes from Debian sid, MariaDB 11.8 from trixie.
 */
import { resolve } from 'node:path'
import { TEST_KDF_POLICY, type KdfPolicy } from '../crypto/kdf-policy.js'
import { ValidationError } from '../errors/index.js'
import { ENGINES, type Engine } from './local-db/engines.js'
import { defaultStateRoot } from './local-db/paths.js'
import {
  localServerStatus,
  startLocalServer,
  stopLocalServer,
  type LocalServer,
} from './local-db/server.js'

export type { Engine, KdfPolicy }
/** Cheap scrypt and bcrypt costs: for tests only, never for real users' passwords. */
export { ENGINES, TEST_KDF_POLICY }

export interface LocalMysqlOptions {
  /** Default `mysql` (MySQL 9.x); `mariadb` for MariaDB 11.8. */
  readonly engine?: Engine
  /** Progress lines (download, initialisation, start); silent by default. */
  readonly log?: (line: string) => void
  /** Folder for the server's datadir, socket and pid; default `<cwd>/.emr-vault`. */
  readonly stateDir?: string
  /**
   * A database to create (utf8mb4) if it does not exist yet; it is then named
   * in the result, which can be passed as it is to `createDb`.
   */
  readonly database?: string
}

/** A running local server. `root` with an empty password, on loopback only. */
export interface LocalMysql {
  readonly engine: Engine
  readonly version: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  /** The database of `options.database`, created if it was missing. */
  readonly database?: string
  readonly socketPath: string
  readonly pid: number
  /**
   * True if this call started the server, false if it was running already
   * (left from an earlier run, or started by another test process that may
   * still be using it): stop it at the end only if you started it.
   */
  readonly started: boolean
  /** Stops the server (its data stays for the next start). */
  stop(): Promise<void>
}

type Where = Pick<LocalMysqlOptions, 'engine' | 'stateDir'>

/** MySQL's unquoted identifier characters: the name goes into CREATE DATABASE. */
const DATABASE_NAME = /^[A-Za-z0-9_$]{1,64}$/

/**
 * Checks what a caller in plain JavaScript may have got wrong, and fixes the
 * state folder once: resolved against the working directory of this call, so
 * `stop()` finds the same server after a `process.chdir`.
 */
function where(options: Where): { engine: Engine; stateDir: string } {
  const engine = options.engine ?? 'mysql'
  if (!(ENGINES as readonly unknown[]).includes(engine)) {
    throw new ValidationError('engine', `must be one of: ${ENGINES.join(', ')}`)
  }
  if (
    options.stateDir !== undefined &&
    (typeof options.stateDir !== 'string' || options.stateDir === '')
  ) {
    throw new ValidationError('stateDir', 'must be a non-empty path')
  }
  return { engine, stateDir: resolve(options.stateDir ?? defaultStateRoot()) }
}

function withStop(
  server: LocalServer,
  stateDir: string,
  database: string | undefined,
): LocalMysql {
  return {
    engine: server.engine,
    version: server.version,
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    ...(database === undefined ? {} : { database }),
    socketPath: server.socketPath,
    pid: server.pid,
    started: server.started,
    async stop() {
      await stopLocalServer(server.engine, stateDir)
    },
  }
}

async function createDatabase(server: LocalServer, database: string): Promise<void> {
  // Loaded only when asked for: the driver is the heaviest thing here.
  const { default: mysql } = await import('mysql2/promise')
  const admin = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
  })
  try {
    await admin.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4`,
    )
  } finally {
    await admin.end()
  }
}

/**
 * Starts the local server (downloading it on first use, a few minutes) or
 * returns the one already running for the same state folder.
 */
export function startLocalMysql(
  options: LocalMysqlOptions & { readonly database: string },
): Promise<LocalMysql & { readonly database: string }>
export function startLocalMysql(options?: LocalMysqlOptions): Promise<LocalMysql>
export async function startLocalMysql(
  options: LocalMysqlOptions = {},
): Promise<LocalMysql> {
  const { engine, stateDir } = where(options)
  const { database, log } = options
  if (
    database !== undefined &&
    (typeof database !== 'string' || !DATABASE_NAME.test(database))
  ) {
    throw new ValidationError(
      'database',
      'must be 1 to 64 letters, digits, underscores or dollar signs',
    )
  }
  if (log !== undefined && typeof log !== 'function') {
    throw new ValidationError('log', 'must be a function')
  }
  const server = await startLocalServer({ engine, stateDir, ...(log ? { log } : {}) })
  if (database !== undefined) await createDatabase(server, database)
  return withStop(server, stateDir, database)
}

/** The running server of that engine and state folder, or `null`. */
export async function localMysqlStatus(options: Where = {}): Promise<LocalMysql | null> {
  const { engine, stateDir } = where(options)
  const server = await localServerStatus(engine, stateDir)
  return server && withStop(server, stateDir, undefined)
}

/** Stops it; `false` if it was not running. */
export async function stopLocalMysql(options: Where = {}): Promise<boolean> {
  const { engine, stateDir } = where(options)
  return stopLocalServer(engine, stateDir)
}
