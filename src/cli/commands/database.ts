import { fileURLToPath } from 'node:url'
import { UsageError, type Command } from '../command.js'
import { out } from '../io.js'
import { localDbCommands } from './local-db.js'

const SEEDS = fileURLToPath(new URL('../../../seeds', import.meta.url))

export const databaseCommands: Command[] = [
  ...localDbCommands,
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
