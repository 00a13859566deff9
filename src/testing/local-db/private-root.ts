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
 * The environment for programs of the private root: the caller's, minus what
 * would make them load host libraries or read connection settings that are not
 * ours (the client honours MYSQL_PWD, MYSQL_HOST, MYSQL_TCP_PORT …).
 */
export function rootEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(env)) {
    if (!FOREIGN_SETTINGS.has(name)) clean[name] = value
  }
  return clean
}

const FOREIGN_SETTINGS = new Set([
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'MYSQL_PWD',
  'MYSQL_HOST',
  'MYSQL_TCP_PORT',
  'MYSQL_UNIX_PORT',
  'MYSQL_HOME',
  'MYSQL_TEST_LOGIN_FILE',
  'MARIADB_HOME',
])
