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
import { TEST_KDF_POLICY, type KdfPolicy } from '../crypto/kdf-policy.js'
import { ENGINES, type Engine } from './local-db/engines.js'
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
}

/** A running local server. `root` with an empty password, on loopback only. */
export interface LocalMysql {
  readonly engine: Engine
  readonly version: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly socketPath: string
  readonly pid: number
  /** Stops the server (its data stays for the next start). */
  stop(): Promise<void>
}

function withStop(server: LocalServer, stateDir: string | undefined): LocalMysql {
  return {
    engine: server.engine,
    version: server.version,
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    socketPath: server.socketPath,
    pid: server.pid,
    async stop() {
      await stopLocalServer(server.engine, stateDir)
    },
  }
}

/**
 * Starts the local server (downloading it on first use, a few minutes) or
 * returns the one already running for the same state folder.
 */
export async function startLocalMysql(
  options: LocalMysqlOptions = {},
): Promise<LocalMysql> {
  const server = await startLocalServer({
    engine: options.engine ?? 'mysql',
    stateDir: options.stateDir,
    ...(options.log ? { log: options.log } : {}),
  })
  return withStop(server, options.stateDir)
}

/** The running server of that engine and state folder, or `null`. */
export async function localMysqlStatus(
  options: Pick<LocalMysqlOptions, 'engine' | 'stateDir'> = {},
): Promise<LocalMysql | null> {
  const server = await localServerStatus(options.engine ?? 'mysql', options.stateDir)
  return server && withStop(server, options.stateDir)
}

/** Stops it; `false` if it was not running. */
export function stopLocalMysql(
  options: Pick<LocalMysqlOptions, 'engine' | 'stateDir'> = {},
): Promise<boolean> {
  return stopLocalServer(options.engine ?? 'mysql', options.stateDir)
}
