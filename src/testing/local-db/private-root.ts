import { join } from 'node:path'

/**
 * Running a program from the private root. Its libraries (glibc included) come
 * from Debian sid/trixie and are newer than the host's, so the program is started
 * through the root's own dynamic loader with the root's library directory
 * (what worked on Debian 12: `ROOT/usr/lib64/ld-linux-x86-64.so.2 --library-path
 * ROOT/usr/lib/x86_64-linux-gnu ROOT/usr/sbin/mysqld …`). The loader runs the
 * program in its own process, so the pid we spawn is the server's pid.
 */

/** Only amd64 has been tried; the loader and library paths below are amd64's. */
export const DEBIAN_ARCH = 'amd64'
const LOADER = 'usr/lib64/ld-linux-x86-64.so.2'
const LIBRARY_DIR = 'usr/lib/x86_64-linux-gnu'

export function assertSupportedPlatform(): void {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `The local database runs Debian's amd64 packages and needs Linux on x86-64 ` +
        `(this is ${process.platform}/${process.arch}). Set EMR_VAULT_DB_HOST/PORT/USER/PASSWORD ` +
        `to use a server of your own instead.`,
    )
  }
}

export function loaderPath(root: string): string {
  return join(root, LOADER)
}

/** [file, args] that run `binary` (a path inside the root) with `args`. */
export function commandInRoot(
  root: string,
  binary: string,
  args: readonly string[],
): [string, string[]] {
  return [
    loaderPath(root),
    ['--library-path', join(root, LIBRARY_DIR), join(root, binary), ...args],
  ]
}

/**
 * The environment for programs of the private root: only what they need to run
 * (locale, time zone, temp folder, the terminal for the SQL shell). A detached
 * server keeps its environment for its whole life, readable in
 * /proc/<pid>/environ, so the caller's variables (the deployment's keys loaded
 * from .env among them) must not travel with it; and MYSQL_PWD, MYSQL_HOST,
 * LD_PRELOAD and the like would point its programs at what is not ours.
 */
export function rootEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(env)) {
    if (PASSED_THROUGH.has(name) || name.startsWith('LC_')) clean[name] = value
  }
  return clean
}

const PASSED_THROUGH = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TERM',
  'COLUMNS',
  'LINES',
])
