import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import type { Engine } from '../../testing/local-db/engines.js'
import type { LocalServer } from '../../testing/local-db/server.js'
import type { Command } from '../command.js'
import { err, out } from '../io.js'

// The provisioning code (and mysql2 with it) is loaded when a db command runs,
// not at start: --help and the other commands need none of it.
async function localDb() {
  const [download, engines, root, server] = await Promise.all([
    import('../../testing/local-db/download.js'),
    import('../../testing/local-db/engines.js'),
    import('../../testing/local-db/private-root.js'),
    import('../../testing/local-db/server.js'),
  ])
  return { ...download, ...engines, ...root, ...server }
}

/**
 * `db start|stop|status|env|shell`: the private local server of emr-vault/testing,
 * for development and exploring (EMR_VAULT_ENGINE=mariadb picks MariaDB).
 * Progress goes to stderr and results to stdout, so `emr-vault db env > .env`
 * writes only the settings.
 */

async function describe(server: LocalServer): Promise<string> {
  const { ENGINE_SPECS } = await localDb()
  return [
    `${ENGINE_SPECS[server.engine].label} ${server.version} is running (pid ${server.pid})`,
    `  host:     ${server.host}`,
    `  port:     ${server.port}`,
    `  user:     ${server.user}`,
    `  password: (empty)`,
    `  socket:   ${server.socketPath}`,
    `  datadir:  ${server.dataDir}`,
  ].join('\n')
}

function envLines(server: LocalServer): string {
  return [
    `EMR_VAULT_DB_HOST=${server.host}`,
    `EMR_VAULT_DB_PORT=${server.port}`,
    `EMR_VAULT_DB_USER=${server.user}`,
    `EMR_VAULT_DB_PASSWORD=${server.password}`,
    // The database the demo and the CLI use on the local server (testing/dev-database.ts).
    `EMR_VAULT_DB_NAME=emr_vault`,
  ].join('\n')
}

function notRunning(engine: Engine): number {
  err(`The local ${engine} server is not running (start it with: emr-vault db start).`)
  return 1
}

/** The client binary of the same private root, connected over TCP with stdio inherited. */
async function shell(server: LocalServer, extra: readonly string[]): Promise<number> {
  const { commandInRoot, readInstallation, rootEnv } = await localDb()
  const inst = readInstallation(server.engine)
  if (!inst) {
    err(`The ${server.engine} download cache is incomplete; run: emr-vault db start`)
    return 1
  }
  const args = [
    '--no-defaults', // like the server: the host's ~/.my.cnf is not for this server
    `--host=${server.host}`,
    `--port=${server.port}`,
    `--user=${server.user}`,
    '--protocol=TCP',
    // MariaDB's client would otherwise warn on every start that it cannot verify
    // the server certificate of a passwordless login; this is loopback.
    ...(server.engine === 'mariadb' ? ['--skip-ssl-verify-server-cert'] : []),
    ...extra,
  ]
  const [file, argv] = commandInRoot(inst.root, inst.spec.clientBinary, args)
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: 'inherit', env: rootEnv() })
    child.on('error', reject)
    // A client ended by a signal exits as a shell reports it: 128 + the number.
    child.on('exit', (code, signal) =>
      resolve(code ?? (signal ? 128 + constants.signals[signal] : 0)),
    )
  })
}

export const localDbCommands: Command[] = [
  {
    path: ['db', 'start'],
    summary: 'start the private local MySQL (EMR_VAULT_ENGINE=mariadb for MariaDB)',
    usage: '',
    offline: true,
    async run() {
      const { engineFromEnv, startLocalServer } = await localDb()
      const server = await startLocalServer({
        engine: engineFromEnv(),
        log: (line) => err(`[db] ${line}`),
      })
      out(await describe(server))
      out(`\nFor a .env file (emr-vault db env):\n${envLines(server)}`)
      return 0
    },
  },
  {
    path: ['db', 'stop'],
    summary: 'stop the private local server',
    usage: '',
    offline: true,
    async run() {
      const { engineFromEnv, stopLocalServer } = await localDb()
      const engine = engineFromEnv()
      out(
        (await stopLocalServer(engine))
          ? `Stopped the local ${engine} server.`
          : `The local ${engine} server was not running.`,
      )
      return 0
    },
  },
  {
    path: ['db', 'status'],
    summary: 'show the private local server; exit 1 if it is not running',
    usage: '',
    offline: true,
    async run() {
      const { engineFromEnv, localServerStatus } = await localDb()
      const engine = engineFromEnv()
      const server = await localServerStatus(engine)
      if (!server) {
        out(`The local ${engine} server is not running.`)
        return 1
      }
      out(await describe(server))
      return 0
    },
  },
  {
    path: ['db', 'env'],
    summary: 'print EMR_VAULT_DB_* lines for a .env file; exit 1 if it is not running',
    usage: '',
    offline: true,
    async run() {
      const { engineFromEnv, localServerStatus } = await localDb()
      const engine = engineFromEnv()
      const server = await localServerStatus(engine)
      if (!server) return notRunning(engine)
      out(envLines(server))
      return 0
    },
  },
  {
    path: ['db', 'shell'],
    summary: 'open a SQL shell on the private local server',
    usage: '[-- client arguments]',
    offline: true,
    // Ctrl-C belongs to the SQL client (it cancels the statement being typed or
    // run); this command ends when the client does, with its exit code.
    handlesInterrupt: true,
    async run(_rt, args) {
      const { engineFromEnv, localServerStatus } = await localDb()
      const engine = engineFromEnv()
      const server = await localServerStatus(engine)
      if (!server) return notRunning(engine)
      return shell(server, (args['_'] as string[] | undefined) ?? [])
    },
  },
]
