import { realpathSync } from 'node:fs'
import type { RowDataPacket } from 'mysql2/promise'
import { tailFile } from './files.js'
import { HOST } from './port.js'
import { isProcessAlive } from './server-process.js'

/**
 * "Ready" means what a test needs: a mysql2 connection over TCP to 127.0.0.1 as
 * root with the empty password, and `SELECT VERSION()` answering. The server's
 * datadir is read too, so that a different server that happens to answer on the
 * port (another clone's, after a race for the port) is not taken for ours.
 */

export interface Answer {
  /** VERSION() as the server says it, e.g. '9.7.4-2' or '11.8.9-MariaDB-0+deb13u1'. */
  version: string
  dataDir: string
}

export async function askServer(port: number, connectTimeoutMs = 2000): Promise<Answer> {
  // Loaded here, not at the top: `emr-vault --help` and the other commands that
  // never reach a server should not pay for loading the driver.
  const { default: mysql } = await import('mysql2/promise')
  const connection = await mysql.createConnection({
    host: HOST,
    port,
    user: 'root',
    password: '',
    connectTimeout: connectTimeoutMs,
  })
  try {
    const [rows] = await connection.query<RowDataPacket[]>(
      'SELECT VERSION() AS version, @@datadir AS dataDir',
    )
    const row = rows[0]
    return { version: String(row?.version), dataDir: String(row?.dataDir) }
  } finally {
    await connection.end().catch(() => {})
  }
}

export function sameDir(a: string, b: string): boolean {
  const normal = (dir: string) => {
    try {
      return realpathSync(dir)
    } catch {
      return dir.replace(/\/+$/, '')
    }
  }
  return normal(a) === normal(b)
}

export interface ReadinessTarget {
  label: string
  pid: number
  port: number
  dataDir: string
  errorLog: string
  /** Size of the error log before this start: only what follows is this run's. */
  logOffset: number
  timeoutMs: number
}

/** Typical reasons a fresh server exits, recognised in its error log. */
const PORT_TAKEN = /Address already in use|Bind on TCP\/IP port|Can't start server: Bind/i

export class PortTakenError extends Error {
  override name = 'PortTakenError'
}

export async function waitUntilReady(target: ReadinessTarget): Promise<Answer> {
  const deadline = Date.now() + target.timeoutMs
  let lastError: string
  for (;;) {
    if (!isProcessAlive(target.pid)) throw exitedError(target)
    try {
      const answer = await askServer(target.port)
      if (sameDir(answer.dataDir, target.dataDir)) return answer
      lastError = `port ${target.port} is answered by a server with datadir ${answer.dataDir}`
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'ER_ACCESS_DENIED_ERROR') {
        throw new Error(
          `${target.label} on port ${target.port} refuses root with an empty password ` +
            `(${(error as Error).message}). Someone set a password on this local server; ` +
            `stop it (npm run db:stop) and delete its datadir ${target.dataDir} to start afresh.`,
          { cause: error },
        )
      }
      lastError = (error as Error).message
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${target.label} (pid ${target.pid}) did not accept connections on 127.0.0.1:${target.port} ` +
          `within ${Math.round(target.timeoutMs / 1000)} s (last error: ${lastError}). It is still ` +
          `running: look at ${target.errorLog}, and stop it with npm run db:stop if it is stuck.\n` +
          `Last lines of its log:\n${tailFile(target.errorLog, 20, target.logOffset)}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

function exitedError(target: ReadinessTarget): Error {
  const tail = tailFile(target.errorLog, 20, target.logOffset)
  if (PORT_TAKEN.test(tail)) {
    return new PortTakenError(
      `Port ${target.port} on 127.0.0.1 is already in use by another program, so ${target.label} ` +
        `could not listen on it. Run start again: a new free port will be chosen.\n` +
        `Last lines of ${target.errorLog}:\n${tail}`,
    )
  }
  return new Error(
    `${target.label} exited while starting (pid ${target.pid}). Last lines of ${target.errorLog}:\n${tail}`,
  )
}
