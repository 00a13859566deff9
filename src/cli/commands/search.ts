import { optionalArg, stringArg, type Command } from '../command.js'
import { interruption } from '../interrupt.js'
import { out, toJson } from '../io.js'
import { Progress } from '../progress.js'
import { moduleFile } from '../table-module.js'
import { AS_ADMIN, RECOVERY_KEY } from './flags.js'

/**
 * The search indexes' rebuild under the current search key (docs/search.md):
 * after a rotation of EMR_VAULT_SEARCH_KEY (the old key in
 * EMR_VAULT_PREVIOUS_SEARCH_KEY meanwhile), and once after the upgrade that
 * added them. One transaction per patient; Ctrl-C stops between two (exit
 * 130) and the command run again resumes. Exit 1 when a unique index had to
 * leave a row out (a national id two patients share).
 */
export const searchCommands: Command[] = [
  {
    path: ['search', 'reindex'],
    summary:
      'set every search index under the current search key (after a search-key rotation, or once after upgrading); resumable',
    usage: '--as ADMIN --recovery-key FILE [--tables FILE] [--json]',
    help: [
      'Run with the new key in EMR_VAULT_SEARCH_KEY and the old one in EMR_VAULT_PREVIOUS_SEARCH_KEY;',
      'when it has finished, remove EMR_VAULT_PREVIOUS_SEARCH_KEY. --tables adds the application tables.',
      'One transaction per patient; Ctrl-C stops between two patients, and running it again resumes.',
    ],
    options: {
      tables: {
        type: 'string',
        value: 'FILE',
        description:
          'a compiled JavaScript module of the application exporting its declarations (defineTable)',
        check: moduleFile,
      },
      as: AS_ADMIN,
      'recovery-key': RECOVERY_KEY,
    },
    handlesInterrupt: true,
    async run(rt, args) {
      const file = optionalArg(args, 'tables')
      if (file !== undefined) {
        const { loadTableModule } = await import('../table-module.js')
        await rt.vault((await loadTableModule(file)).all())
      }
      const authority = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      const vault = await rt.vault()
      const progress = new Progress('search reindex')
      const result = await vault.rebuildSearchIndexes(authority, {
        signal: rt.signal,
        onProgress: (p) => progress.update(p.patients, p.total),
      })
      progress.done(
        `indexed ${result.rows} rows of ${result.patients} patients` +
          (result.finished ? '' : '; interrupted: run again to finish'),
      )
      if (rt.json) out(toJson(result))
      else
        for (const c of result.conflicts)
          out(
            `CONFLICT patient ${c.patientId}: ${c.index} holds another patient's value; left out of that index (merge or correct the two)`,
          )
      if (!result.finished) return interruption(rt.signal).exitCode
      return result.conflicts.length > 0 ? 1 : 0
    },
  },
]
