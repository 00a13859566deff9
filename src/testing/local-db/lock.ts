import {
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { isProcessAlive } from './server-process.js'

/**
 * A lock directory: `mkdir` either creates it or fails, atomically, so two
 * processes starting at once cannot both download into the cache or both
 * initialise a datadir. The holder's pid is written inside; a lock whose holder
 * has died (killed mid-download) is broken so the next run can go on.
 */

const POLL_MS = 200
/** A lock dir with no owner file yet is being created; give its holder this long. */
const OWNERLESS_GRACE_MS = 10_000

export async function withLock<T>(
  lockDir: string,
  what: string,
  log: (line: string) => void,
  timeoutMs: number,
  body: () => Promise<T>,
): Promise<T> {
  await acquire(lockDir, what, log, timeoutMs)
  try {
    return await body()
  } finally {
    rmSync(lockDir, { recursive: true, force: true })
  }
}

async function acquire(
  lockDir: string,
  what: string,
  log: (line: string) => void,
  timeoutMs: number,
) {
  mkdirSync(dirname(lockDir), { recursive: true })
  const deadline = Date.now() + timeoutMs
  let announced = false
  for (;;) {
    try {
      mkdirSync(lockDir)
      writeFileSync(join(lockDir, 'owner'), `${process.pid}\n`)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const owner = readOwner(lockDir)
    if (isStale(lockDir, owner)) {
      breakStale(lockDir, owner)
      continue
    }
    if (!announced) {
      log(`waiting for ${what} (lock ${lockDir} held by pid ${owner ?? '?'})`)
      announced = true
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: the lock ${lockDir} ` +
          `is held by pid ${owner ?? '(unknown)'}. If no emr-vault process is running, remove it ` +
          `(rm -r '${lockDir}') and try again.`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

function readOwner(lockDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(lockDir, 'owner'), 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function isStale(lockDir: string, owner: number | undefined): boolean {
  if (owner !== undefined) return !isProcessAlive(owner)
  try {
    return Date.now() - statSync(lockDir).mtimeMs > OWNERLESS_GRACE_MS
  } catch {
    return false // gone meanwhile: the next mkdir will tell
  }
}

/**
 * Renaming first means only one of several waiters removes a given stale lock;
 * the others' rename fails and they retry mkdir. If, between our check and our
 * rename, another waiter broke the stale lock and took a fresh one, what we
 * renamed has a different owner: it goes back.
 */
function breakStale(lockDir: string, staleOwner: number | undefined): void {
  const trash = `${lockDir}.stale-${process.pid}-${Date.now()}`
  try {
    renameSync(lockDir, trash)
  } catch {
    return
  }
  if (readOwner(trash) !== staleOwner) {
    try {
      renameSync(trash, lockDir)
      return
    } catch {
      // A third process has made a new lock meanwhile. Very unlikely (three
      // processes within milliseconds after a crash); give up the stolen one.
    }
  }
  rmSync(trash, { recursive: true, force: true })
}
