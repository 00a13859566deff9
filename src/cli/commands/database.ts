import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { UsageError, type Command } from '../command.js'
import { out } from '../io.js'

const LOCAL_DB_CLI = fileURLToPath(
  new URL('../../../scripts/local-db/cli.ts', import.meta.url),
)
const SEEDS = fileURLToPath(new URL('../../../seeds', import.meta.url))

/** `db start|stop|status|shell`: the private local server (scripts/local-db), run as a child. */
function localDb(verb: string, summary: string): Command {
  return {
    path: ['db', verb],
    summary,
    usage: verb === 'shell' ? '[-- client arguments]' : '',
    offline: true,
    async run(_rt, args) {
      const extra = (args['_'] as string[] | undefined) ?? []
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', LOCAL_DB_CLI, verb, ...extra],
        {
          stdio: 'inherit',
        },
      )
      return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
    },
  }
}

export const databaseCommands: Command[] = [
  localDb(
    'start',
    'start the private local MySQL (EMR_VAULT_ENGINE=mariadb for MariaDB)',
  ),
  localDb('stop', 'stop the private local server'),
  localDb('status', 'show the private local server; exit 1 if it is not running'),
  localDb('shell', 'open a SQL shell on the private local server'),
  {
    path: ['migrate'],
    summary: 'apply every pending migration',
    usage: '[--json]',
    async run(rt) {
      const [batch, applied] = (await (await rt.db()).migrate.latest()) as [
        number,
        string[],
      ]
      if (rt.json) out(JSON.stringify({ batch, applied }))
      else
        out(
          applied.length
            ? `Applied (batch ${batch}): ${applied.join(', ')}`
            : 'Already at the latest migration',
        )
      return 0
    },
  },
  {
    path: ['rollback'],
    summary:
      'undo the last batch of migrations (drops tables: in production it needs --yes)',
    usage: '[--yes] [--json]',
    options: { yes: { type: 'boolean' } },
    async run(rt, args) {
      if (process.env['NODE_ENV'] === 'production' && args['yes'] !== true) {
        throw new UsageError(
          'rollback drops the chart tables; in production add --yes if you mean it',
        )
      }
      const [batch, undone] = (await (await rt.db()).migrate.rollback()) as [
        number,
        string[],
      ]
      if (rt.json) out(JSON.stringify({ batch, undone }))
      else
        out(
          undone.length
            ? `Rolled back batch ${batch}: ${undone.join(', ')}`
            : 'Nothing to roll back',
        )
      return 0
    },
  },
  {
    path: ['seed'],
    summary:
      'load the demo clinic (users, patients, charts) through the services; never in production',
    usage: '',
    async run(rt) {
      if (process.env['NODE_ENV'] === 'production') {
        throw new UsageError(
          'the demo seed creates users with published passwords; it does not run in production',
        )
      }
      const [files] = (await (
        await rt.db()
      ).seed.run({ directory: SEEDS, loadExtensions: ['.ts'] })) as [string[]]
      out(`Ran ${files.length} seed file(s)`)
      return 0
    },
  },
]
