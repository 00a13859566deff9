import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { findDebianMirror } from './apt-mirror.js'
import { PrivateApt } from './apt.js'
import { ENGINE_SPECS, shortVersion, type Engine, type EngineSpec } from './engines.js'
import { lastLines, run, RunError } from './exec.js'
import { readJson, writeJsonAtomic } from './files.js'
import { withLock } from './lock.js'
import { cachePaths } from './paths.js'
import { commandInRoot, loaderPath, rootEnv } from './private-root.js'

/**
 * The download cache: Debian packages of the server and client, unpacked into one
 * private root (what worked on Debian 12: `apt-get download` + `dpkg -x`, nothing installed
 * system-wide). Done once per user and engine; the marker file is written last, so
 * a download or unpack that was interrupted is redone from scratch.
 */

export interface Installation {
  engine: Engine
  spec: EngineSpec
  root: string
  /** Debian version of the server package, e.g. '9.7.4-2'. */
  packageVersion: string
  /** From `mysqld --version`, e.g. '9.7.4'. */
  serverVersion: string
}

interface Marker {
  engine: Engine
  suite: string
  mirror: string
  packageVersion: string
  serverVersion: string
  packages: string[]
  completedAt: string
}

/** 15 minutes: another process may be downloading on a slow link. */
const LOCK_TIMEOUT_MS = 15 * 60_000

export async function ensureInstalled(
  engine: Engine,
  log: (line: string) => void,
): Promise<Installation> {
  const cached = readInstallation(engine)
  if (cached) return cached
  const paths = cachePaths(engine)
  return withLock(
    paths.lock,
    `the ${engine} download cache`,
    log,
    LOCK_TIMEOUT_MS,
    async () => {
      // Another process may have finished the download while we waited.
      return readInstallation(engine) ?? (await install(engine, log))
    },
  )
}

/** The cached installation if complete: marker present and binaries unpacked. */
export function readInstallation(engine: Engine): Installation | undefined {
  const spec = ENGINE_SPECS[engine]
  const paths = cachePaths(engine)
  const marker = readJson<Marker>(paths.marker)
  const complete =
    marker?.engine === engine &&
    existsSync(join(paths.root, spec.serverBinary)) &&
    existsSync(join(paths.root, spec.clientBinary)) &&
    existsSync(loaderPath(paths.root))
  if (!complete || !marker) return undefined
  return {
    engine,
    spec,
    root: paths.root,
    packageVersion: marker.packageVersion,
    serverVersion: marker.serverVersion,
  }
}

async function install(
  engine: Engine,
  log: (line: string) => void,
): Promise<Installation> {
  const spec = ENGINE_SPECS[engine]
  const paths = cachePaths(engine)
  const started = Date.now()
  // Whatever is here is incomplete (no marker): start over.
  for (const dir of [paths.apt, paths.debs, paths.root, paths.rootStaging]) {
    rmSync(dir, { recursive: true, force: true })
  }
  rmSync(paths.marker, { force: true })
  mkdirSync(paths.dir, { recursive: true })

  const mirror = findDebianMirror()
  log(
    `downloading ${spec.label} from Debian ${spec.suite} (${mirror.uri}, as in ${mirror.source})`,
  )
  const apt = new PrivateApt(paths.apt)
  apt.configure(mirror, spec.suite)
  await apt.update()
  const packages = await apt.closure([spec.serverPackage, spec.clientPackage])
  log(`fetching ${packages.length} packages into ${paths.debs}`)
  await apt.download(packages, paths.debs)

  const debs = readdirSync(paths.debs).filter((name) => name.endsWith('.deb'))
  log(`unpacking ${debs.length} packages into ${paths.root}`)
  mkdirSync(paths.rootStaging, { recursive: true })
  for (const deb of debs) await unpack(join(paths.debs, deb), paths.rootStaging)
  renameSync(paths.rootStaging, paths.root)

  const packageVersion = await debField(paths.debs, debs, spec.serverPackage, 'Version')
  const serverVersion = await binaryVersion(paths.root, spec)
  const marker: Marker = {
    engine,
    suite: spec.suite,
    mirror: mirror.uri,
    packageVersion,
    serverVersion,
    packages,
    completedAt: new Date().toISOString(),
  }
  writeJsonAtomic(paths.marker, marker)
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  log(
    `downloaded and unpacked ${spec.label} ${serverVersion} (${packages.length} packages) in ${seconds} s`,
  )
  return { engine, spec, root: paths.root, packageVersion, serverVersion }
}

async function unpack(deb: string, into: string): Promise<void> {
  try {
    await run('dpkg-deb', ['--extract', deb, into], { timeoutMs: 5 * 60_000 })
  } catch (error) {
    const detail = error instanceof RunError ? lastLines(error.stderr, 5) : String(error)
    throw new Error(
      `Could not unpack ${deb} with dpkg-deb: ${detail}. Run again to redo the download.`,
      {
        cause: error,
      },
    )
  }
}

async function debField(dir: string, debs: string[], pkg: string, field: string) {
  const deb = debs.find((name) => name.startsWith(`${pkg}_`))
  if (!deb) throw new Error(`apt-get did not download ${pkg} into ${dir}; run again.`)
  const { stdout } = await run('dpkg-deb', ['--field', join(dir, deb), field])
  return stdout.trim()
}

/**
 * Running `--version` through the private loader also proves that the root is
 * usable (loader, glibc and libraries all present) before we call it complete.
 */
export async function binaryVersion(root: string, spec: EngineSpec): Promise<string> {
  const [file, args] = commandInRoot(root, spec.serverBinary, ['--version'])
  try {
    const { stdout } = await run(file, args, { env: rootEnv(), timeoutMs: 30_000 })
    return shortVersion(stdout)
  } catch (error) {
    const detail = error instanceof RunError ? lastLines(error.stderr, 10) : String(error)
    throw new Error(
      `The unpacked ${spec.label} server does not run (${file} ${spec.serverBinary} --version):\n` +
        `${detail}\nThe next start downloads it anew; if that fails the same way, the Debian ` +
        `${spec.suite} packages have changed in a way this script does not handle yet.`,
      { cause: error },
    )
  }
}
