import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import type { Engine } from './engines.js'

/**
 * Where things live. The download cache is per user, outside the clone, so a fresh
 * clone (CI runs in one) reuses it; the server's state is per clone, so two clones
 * never share a datadir or a port.
 */

/**
 * Where a server's state lives unless the caller names a folder: `.emr-vault/` in
 * the working directory, so a project (this one, or an application using
 * `emr-vault/testing`) keeps its server beside its own files, never inside
 * node_modules.
 */
export function defaultStateRoot(): string {
  return join(process.cwd(), '.emr-vault')
}

/**
 * Creates the state folder private to its owner, with a `.gitignore` of `*`
 * inside: it holds the development keys (a recovery private key among them)
 * and a passwordless server's datadir, and an application's repository does
 * not ignore it the way this one does; `git add .` must not pick it up.
 */
export function ensureStateRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 })
  chmodSync(root, 0o700)
  writeFileSync(
    join(root, '.gitignore'),
    '# Local keys and server data: never commit.\n*\n',
  )
}

/** `${XDG_CACHE_HOME:-~/.cache}/emr-vault/<engine>` (a relative XDG_CACHE_HOME is ignored, as the XDG spec says). */
export function cacheDir(engine: Engine, env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache')
  return join(base, 'emr-vault', engine)
}

export interface CachePaths {
  dir: string
  /** mkdir lock: held while downloading or unpacking. */
  lock: string
  /** Private apt configuration: sources.list, lists/, an empty dpkg status, apt's own cache. */
  apt: string
  debs: string
  /** The unpacked packages: the private root the server runs from. */
  root: string
  /** Unpacking goes here first and is renamed to `root` when complete. */
  rootStaging: string
  /** Written last, only after a complete download and unpack. */
  marker: string
}

export function cachePaths(engine: Engine): CachePaths {
  const dir = cacheDir(engine)
  return {
    dir,
    lock: join(dir, '.lock'),
    apt: join(dir, 'apt'),
    debs: join(dir, 'debs'),
    root: join(dir, 'root'),
    rootStaging: join(dir, 'root.partial'),
    marker: join(dir, 'installed.json'),
  }
}

export interface StatePaths {
  dir: string
  /** mkdir lock: held while initialising, starting or stopping this clone's server. */
  lock: string
  dataDir: string
  /** Initialisation writes here first and is renamed to `dataDir` when complete. */
  dataStaging: string
  runDir: string
  socket: string
  pidFile: string
  errorLog: string
  initLog: string
  /** The port chosen at first start, reused while it stays free. */
  portFile: string
}

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107

export function statePaths(engine: Engine, stateRoot = defaultStateRoot()): StatePaths {
  const dir = join(stateRoot, engine)
  const runDir = join(dir, 'run')
  let socket = join(runDir, 'server.sock')
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    // A clone deep in the file system cannot have its socket inside the clone:
    // the server would refuse to start. A name derived from the clone's path keeps
    // it private to this clone and stable across starts.
    const tag = createHash('sha256').update(dir).digest('hex').slice(0, 12)
    socket = join(tmpdir(), `emr-vault-${tag}-${engine}.sock`)
  }
  return {
    dir,
    lock: join(dir, '.lock'),
    dataDir: join(dir, 'data'),
    dataStaging: join(dir, 'data.partial'),
    runDir,
    socket,
    pidFile: join(runDir, 'server.pid'),
    errorLog: join(runDir, 'error.log'),
    initLog: join(runDir, 'init.log'),
    portFile: join(dir, 'port'),
  }
}
