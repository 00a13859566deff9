import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Installation } from './download.js'
import { ENGINE_SPECS, majorMinor, type Engine } from './engines.js'
import { lastLines, run, RunError } from './exec.js'
import { readJson, writeJsonAtomic } from './files.js'
import type { StatePaths } from './paths.js'
import { commandInRoot, rootEnv } from './private-root.js'
import { baseArgs } from './server-args.js'

/**
 * The datadir: initialised once, in a staging directory renamed into place when
 * complete, with a marker naming the engine and version that made it. A datadir
 * from another engine or another major.minor is refused rather than handed to a
 * server that would try to upgrade or misread it.
 */

/** Kept inside the datadir so it travels with it; both servers ignore plain files there. */
const MARKER = 'emr-vault-datadir.json'

interface DataDirMarker {
  engine: Engine
  version: string
  packageVersion: string
  initialisedAt: string
}

export async function ensureDataDir(
  inst: Installation,
  state: StatePaths,
  log: (line: string) => void,
): Promise<void> {
  if (existsSync(state.dataDir)) return checkDataDir(inst, state.dataDir)
  log(`initialising a new ${inst.spec.label} datadir in ${state.dataDir}`)
  rmSync(state.dataStaging, { recursive: true, force: true })
  mkdirSync(state.runDir, { recursive: true })
  if (inst.engine === 'mysql') await initialiseMysql(inst, state)
  else await initialiseMariadb(inst, state)
  const marker: DataDirMarker = {
    engine: inst.engine,
    version: inst.serverVersion,
    packageVersion: inst.packageVersion,
    initialisedAt: new Date().toISOString(),
  }
  writeJsonAtomic(join(state.dataStaging, MARKER), marker)
  renameSync(state.dataStaging, state.dataDir)
}

function checkDataDir(inst: Installation, dataDir: string): void {
  const marker = readJson<DataDirMarker>(join(dataDir, MARKER))
  const remedy =
    `Move it away, or delete it to start empty (rm -rf '${dataDir}'; this deletes the local ` +
    `databases), then start again.`
  if (!marker) {
    throw new Error(
      `${dataDir} exists but was not initialised by this script (it looks like ${sniff(dataDir)}). ${remedy}`,
    )
  }
  if (marker.engine !== inst.engine) {
    throw new Error(
      `${dataDir} was initialised by ${ENGINE_SPECS[marker.engine]?.label ?? marker.engine} ` +
        `${marker.version}, not ${inst.spec.label}. ${remedy}`,
    )
  }
  if (majorMinor(marker.version) !== majorMinor(inst.serverVersion)) {
    throw new Error(
      `${dataDir} was initialised by ${inst.spec.label} ${marker.version}, but the cached server is ` +
        `${inst.serverVersion}: a different major.minor version, which this script does not upgrade. ${remedy}`,
    )
  }
}

function sniff(dataDir: string): string {
  if (existsSync(join(dataDir, 'mysql.ibd'))) return 'a MySQL 8+ datadir'
  if (existsSync(join(dataDir, 'aria_log_control'))) return 'a MariaDB datadir'
  return 'an incomplete or foreign directory'
}

/** (facts) `--initialize-insecure` on an empty datadir: root@localhost, empty password. */
async function initialiseMysql(inst: Installation, state: StatePaths): Promise<void> {
  await runInit(inst, state, [
    ...baseArgs(inst, state.dataStaging),
    '--initialize-insecure',
  ])
}

/**
 * (facts) MariaDB has no --initialize: the system tables are created by piping
 * SQL into `mariadbd --bootstrap`, as mariadb-install-db does (same files, same
 * options). `@auth_root_socket=NULL` gives root@localhost/127.0.0.1/::1 with an
 * empty password instead of unix-socket-only login. --bootstrap reads one
 * statement per line, so the preamble is one per line too.
 */
async function initialiseMariadb(inst: Installation, state: StatePaths): Promise<void> {
  const share = join(inst.root, 'usr/share/mariadb')
  const sql = [
    'CREATE DATABASE IF NOT EXISTS mysql;\nUSE mysql;\nSET @auth_root_socket=NULL;\n',
    ...[
      'mariadb_system_tables.sql',
      'mariadb_performance_tables.sql',
      'mariadb_system_tables_data.sql',
      'mariadb_sys_schema.sql',
    ].map((name) => readFileSync(join(share, name), 'utf8')),
  ].join('\n')
  mkdirSync(state.dataStaging, { recursive: true })
  const args = [
    ...baseArgs(inst, state.dataStaging),
    '--bootstrap',
    '--log-warnings=0',
    '--enforce-storage-engine=',
    '--max-allowed-packet=8M',
    '--net-buffer-length=16K',
  ]
  await runInit(inst, state, args, sql)
  // mariadb-install-db leaves this so that mariadb-upgrade knows the tables are current.
  writeFileSync(
    join(state.dataStaging, 'mariadb_upgrade_info'),
    `${inst.serverVersion}-MariaDB`,
  )
}

async function runInit(
  inst: Installation,
  state: StatePaths,
  args: string[],
  input?: string,
) {
  const [file, argv] = commandInRoot(inst.root, inst.spec.serverBinary, args)
  try {
    const { stdout, stderr } = await run(file, argv, {
      env: rootEnv(),
      timeoutMs: 5 * 60_000,
      ...(input === undefined ? {} : { input }),
    })
    writeFileSync(state.initLog, `${stdout}${stderr}`)
  } catch (error) {
    if (!(error instanceof RunError)) throw error
    writeFileSync(state.initLog, `${error.stdout}${error.stderr}`)
    rmSync(state.dataStaging, { recursive: true, force: true })
    throw new Error(
      `Initialising the ${inst.spec.label} datadir failed (${error.message}). Full log: ${state.initLog}\n` +
        lastLines(`${error.stdout}\n${error.stderr}`, 20),
      { cause: error },
    )
  }
}
