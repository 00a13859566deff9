import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigurationError } from '../../errors/index.js'
import { ensureDataDir } from './datadir.js'
import { ensureInstalled } from './download.js'
import { assertEngine, ENGINE_SPECS, shortVersion, type Engine } from './engines.js'
import { fileSize } from './files.js'
import { withLock } from './lock.js'
import { ensureStateRoot, statePaths, type StatePaths } from './paths.js'
import { choosePort, HOST } from './port.js'
import { assertSupportedPlatform, commandInRoot, rootEnv } from './private-root.js'
import {
  askServer,
  PortTakenError,
  sameDir,
  waitUntilReady,
  type Answer,
} from './readiness.js'
import { serverArgs } from './server-args.js'
import {
  argValue,
  isProcessAlive,
  processArgs,
  readPidFile,
  spawnDetached,
  terminate,
} from './server-process.js'

/** Start, stop and status of the local server of one engine and one state folder. */

export interface LocalServer {
  engine: Engine
  version: string
  host: '127.0.0.1'
  port: number
  user: 'root'
  password: ''
  socketPath: string
  dataDir: string
  pid: number
  /** True if this call started it; false if it was running already (perhaps for another process). */
  started: boolean
}

/** A first start measured ~3 s here; crash recovery after a SIGKILL can take longer. */
const START_TIMEOUT_MS = 60_000
/** InnoDB's clean shutdown of a small test database takes a second or two. */
const STOP_GRACE_MS = 60_000
/** Covers a first start by another process, download included. */
const STATE_LOCK_TIMEOUT_MS = 20 * 60_000

interface Running {
  pid: number
  args: string[]
}

/**
 * The server process of this clone, from its pid file: alive, and its argv names
 * our datadir (after a crash the pid may have been reused by something else).
 */
function runningProcess(state: StatePaths): Running | undefined {
  const pid = readPidFile(state.pidFile)
  if (pid === undefined || !isProcessAlive(pid)) return undefined
  const args = processArgs(pid)
  if (!args || argValue(args, 'datadir') !== state.dataDir) return undefined
  return { pid, args }
}

function portOf(running: Running): number {
  return Number(argValue(running.args, 'port'))
}

function describe(
  engine: Engine,
  state: StatePaths,
  running: Running,
  answer: Answer,
  started = false,
): LocalServer {
  return {
    engine,
    version: shortVersion(answer.version),
    host: HOST,
    port: portOf(running),
    user: 'root',
    password: '',
    socketPath: argValue(running.args, 'socket') ?? state.socket,
    dataDir: state.dataDir,
    pid: running.pid,
    started,
  }
}

/** `stateDir`: where the server's datadir, socket and pid live (default `<cwd>/.emr-vault`). */
export async function localServerStatus(
  engine: Engine,
  stateDir?: string,
): Promise<LocalServer | null> {
  assertEngine(engine)
  const state = statePaths(engine, stateDir)
  const running = runningProcess(state)
  if (!running) return null
  try {
    const answer = await askServer(portOf(running))
    return sameDir(answer.dataDir, state.dataDir)
      ? describe(engine, state, running, answer)
      : null
  } catch {
    return null
  }
}

/**
 * The local server is root with an empty password: for tests and development
 * only. NODE_ENV must be unset, `development` or `test`; anything else (a
 * production host, or a mistyped `prod`) is refused rather than guessed at.
 */
export function isDevelopmentEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  const mode = env['NODE_ENV']
  return mode === undefined || mode === '' || mode === 'development' || mode === 'test'
}

function assertDevelopmentEnvironment(): void {
  if (!isDevelopmentEnvironment()) {
    throw new ConfigurationError(
      'the local MySQL (root, no password) is for tests and development only: ' +
        'NODE_ENV must be unset, development or test',
    )
  }
}

export async function startLocalServer(opts: {
  engine: Engine
  log?: (line: string) => void
  stateDir?: string | undefined
}): Promise<LocalServer> {
  const { engine } = opts
  const log = opts.log ?? (() => {})
  assertEngine(engine)
  assertDevelopmentEnvironment()
  assertSupportedPlatform()
  const already = await localServerStatus(engine, opts.stateDir)
  if (already) return already
  const state = statePaths(engine, opts.stateDir)
  ensureStateRoot(dirname(state.dir))
  mkdirSync(state.dir, { recursive: true })
  return withLock(
    state.lock,
    `this clone's ${engine} server`,
    log,
    STATE_LOCK_TIMEOUT_MS,
    () => startLocked(engine, state, log),
  )
}

async function startLocked(
  engine: Engine,
  state: StatePaths,
  log: (line: string) => void,
) {
  const spec = ENGINE_SPECS[engine]
  const existing = runningProcess(state)
  if (existing) {
    // Started by another process that has not finished, or still recovering:
    // wait for it rather than start a second server on the same datadir.
    log(
      `${spec.label} is already running as pid ${existing.pid}; waiting for it to answer`,
    )
    const answer = await waitUntilReady({
      label: spec.label,
      pid: existing.pid,
      port: portOf(existing),
      dataDir: state.dataDir,
      errorLog: state.errorLog,
      logOffset: 0,
      timeoutMs: START_TIMEOUT_MS,
    })
    return describe(engine, state, existing, answer)
  }

  const inst = await ensureInstalled(engine, log)
  log(
    `${spec.label} ${inst.serverVersion} (Debian ${spec.suite} package ${spec.serverPackage} ` +
      `${inst.packageVersion}, cached in ${inst.root})`,
  )
  await ensureDataDir(inst, state, log)
  mkdirSync(state.runDir, { recursive: true })
  const port = await choosePort(state.portFile, log)
  const args = serverArgs(inst, state, port)
  const [file, argv] = commandInRoot(inst.root, spec.serverBinary, args)
  const logOffset = fileSize(state.errorLog)
  const started = Date.now()
  log(`starting ${spec.label} on ${HOST}:${port} (log: ${state.errorLog})`)
  const pid = spawnDetached(file, argv, state.errorLog, rootEnv())
  try {
    const answer = await waitUntilReady({
      label: spec.label,
      pid,
      port,
      dataDir: state.dataDir,
      errorLog: state.errorLog,
      logOffset,
      timeoutMs: START_TIMEOUT_MS,
    })
    log(
      `${spec.label} ${answer.version} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    )
    return describe(engine, state, { pid, args: [file, ...argv] }, answer, true)
  } catch (error) {
    // The remembered port is taken: forget it so the next start picks another.
    if (error instanceof PortTakenError) rmSync(state.portFile, { force: true })
    throw error
  }
}

export async function stopLocalServer(
  engine: Engine,
  stateDir?: string,
): Promise<boolean> {
  assertEngine(engine)
  const state = statePaths(engine, stateDir)
  if (!existsSync(state.dir)) return false
  return withLock(
    state.lock,
    `this clone's ${engine} server`,
    () => {},
    STATE_LOCK_TIMEOUT_MS,
    async () => {
      const running = runningProcess(state)
      if (!running) return false
      await terminate(running.pid, STOP_GRACE_MS)
      return true
    },
  )
}
