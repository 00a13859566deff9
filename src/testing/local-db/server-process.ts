import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'

/** Process bookkeeping for the detached server: pid files, liveness, signals. */

/** Alive and not a zombie (a server we spawned and that exited stays a zombie until our event loop reaps it). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 3, after the parenthesised command name (which may contain spaces).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** The argv of a running process, or undefined if it is gone. */
export function processArgs(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
}

/** The value of `--name=value` in an argv. */
export function argValue(args: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`
  return args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length)
}

/**
 * Starts the server in its own session (detached), with no stdin and its
 * stdout/stderr appended to the error log: a server that fails before it opens
 * its log (MariaDB on a bad option) still leaves its reason there. `unref` lets
 * the starting process exit while the server goes on.
 */
export function spawnDetached(
  file: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
): number {
  const fd = openSync(logFile, 'a')
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env })
    child.unref()
    if (child.pid === undefined) throw new Error(`Could not start ${file}`)
    return child.pid
  } finally {
    closeSync(fd)
  }
}

/** Waits until `pid` has exited; false on timeout. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return true
}

/**
 * SIGTERM is the servers' clean shutdown (InnoDB flushes and closes); SIGKILL only
 * after `graceMs`, and then crash recovery runs at the next start.
 */
export async function terminate(
  pid: number,
  graceMs: number,
): Promise<'clean' | 'killed'> {
  signal(pid, 'SIGTERM')
  if (await waitForExit(pid, graceMs)) return 'clean'
  signal(pid, 'SIGKILL')
  if (await waitForExit(pid, 10_000)) return 'killed'
  throw new Error(`Process ${pid} did not exit even after SIGKILL.`)
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}
