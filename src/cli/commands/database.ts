import { migrateLatest, migrateRollback, migrationStatus } from '../../db/migrate.js'
import { UsageError, type Command } from '../command.js'
import { seedDemoClinic } from '../demo-clinic.js'
import { out } from '../io.js'
import { localDbCommands } from './local-db.js'

export const databaseCommands: Command[] = [
  ...localDbCommands,
  {
    path: ['migrate'],
    summary: 'apply every pending migration',
    usage: '[--json]',
    help: [
      'A database migrated by an earlier version (history in knex_migrations under',
      'the old file names) is carried over into emr_vault_migrations first, without',
      'running anything again.',
    ],
    async run(rt) {
      const result = await migrateLatest(await rt.db())
      if (rt.json) {
        out(JSON.stringify(result))
        return 0
      }
      if (result.carriedOver.length > 0) {
        out(
          `Carried over ${result.carriedOver.length} migration(s) recorded under their old names in knex_migrations (nothing re-run)`,
        )
      }
      out(
        result.applied.length
          ? `Applied (batch ${result.batch}): ${result.applied.join(', ')}`
          : 'Already at the latest migration',
      )
      return 0
    },
  },
  {
    path: ['migrate', 'status'],
    summary: 'list applied and pending migrations (changes nothing)',
    usage: '[--json]',
    async run(rt) {
      const status = await migrationStatus(await rt.db())
      if (rt.json) {
        out(JSON.stringify(status))
        return 0
      }
      out(`${status.applied.length} applied, ${status.pending.length} pending`)
      for (const name of status.applied) out(`  applied  ${name}`)
      for (const name of status.pending) out(`  pending  ${name}`)
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
      const { batch, undone } = await migrateRollback(await rt.db())
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
      const seeded = await seedDemoClinic(await rt.vault())
      out(
        seeded.users > 0
          ? `Demo clinic loaded: ${seeded.users} users, ${seeded.patients} patients, ${seeded.records} records`
          : 'Demo clinic already loaded; nothing changed',
      )
      return 0
    },
  },
]
