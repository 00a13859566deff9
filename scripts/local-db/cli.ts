import { spawn } from 'node:child_process'
import { readInstallation } from './download.js'
import { ENGINE_SPECS, engineFromEnv, type Engine } from './engines.js'
import {
  localServerStatus,
  startLocalServer,
  stopLocalServer,
  type LocalServer,
} from './index.js'
import { commandInRoot, rootEnv } from './private-root.js'

/**
 * npm run db:start|db:stop|db:status|db:env|db:shell (EMR_VAULT_ENGINE picks the
 * engine). Progress goes to stderr, results to stdout, so `npm run -s db:env > .env`
 * writes only the settings.
 */

const USAGE = `Usage: tsx scripts/local-db/cli.ts <command> [client args…]

Commands (EMR_VAULT_ENGINE=mysql|mariadb picks the engine, default mysql):
  start    download (once), initialise (once) and start this clone's local server
  stop     stop it
  status   print its settings; exit 1 if it is not running
  env      print EMR_VAULT_DB_* lines for a .env file; exit 1 if it is not running
  shell    open the engine's SQL client on it (further arguments go to the client)
`

function describe(server: LocalServer): string {
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
    // The database the demo, the knex CLI and emr-vault use on the local server.
    `EMR_VAULT_DB_NAME=emr_vault`,
  ].join('\n')
}

async function requireRunning(engine: Engine): Promise<LocalServer> {
  const server = await localServerStatus(engine)
  if (server) return server
  console.error(
    `The local ${engine} server is not running (start it with: npm run db:start).`,
  )
  process.exit(1)
}

/** The client binary of the same private root, connected over TCP with stdio inherited. */
async function shell(engine: Engine, extra: string[]): Promise<number> {
  const server = await requireRunning(engine)
  const inst = readInstallation(engine)
  if (!inst)
    throw new Error(`The ${engine} download cache is incomplete; run npm run db:start.`)
  const args = [
    '--no-defaults', // like the server: the host's ~/.my.cnf is not for this server
    `--host=${server.host}`,
    `--port=${server.port}`,
    `--user=${server.user}`,
    '--protocol=TCP',
    // MariaDB's client would otherwise warn on every start that it cannot verify
    // the server certificate of a passwordless login; this is loopback.
    ...(engine === 'mariadb' ? ['--skip-ssl-verify-server-cert'] : []),
    ...extra,
  ]
  const [file, argv] = commandInRoot(inst.root, inst.spec.clientBinary, args)
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: 'inherit', env: rootEnv() })
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const known = ['start', 'stop', 'status', 'env', 'shell']
  if (command === undefined || !known.includes(command)) {
    if (command !== undefined) console.error(`Unknown command: ${command}\n`)
    process.stderr.write(USAGE)
    return 2
  }
  const engine = engineFromEnv()
  switch (command) {
    case 'start': {
      const server = await startLocalServer({
        engine,
        log: (line) => console.error(`[db] ${line}`),
      })
      console.log(describe(server))
      console.log(`\nFor a .env file (npm run -s db:env):\n${envLines(server)}`)
      return 0
    }
    case 'stop': {
      const wasRunning = await stopLocalServer(engine)
      console.log(
        wasRunning
          ? `Stopped the local ${engine} server.`
          : `The local ${engine} server was not running.`,
      )
      return 0
    }
    case 'status': {
      const server = await localServerStatus(engine)
      if (!server) {
        console.log(`The local ${engine} server is not running.`)
        return 1
      }
      console.log(describe(server))
      return 0
    }
    case 'env':
      console.log(envLines(await requireRunning(engine)))
      return 0
    default:
      return shell(engine, rest)
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  },
)
