import { optionalArg, stringArg, type Command } from '../command.js'
import { interruption } from '../interrupt.js'
import { out, toJson } from '../io.js'
import { Progress } from '../progress.js'
import { AS_ADMIN, PATIENT } from './flags.js'

export const chartCommands: Command[] = [
  {
    path: ['chart', 'baseline'],
    summary:
      'record the chart state of every patient who has none (once, after upgrading a database made before chart states): vouches for the rows as the database holds them now',
    usage: '--as ADMIN [--reset ID] [--json]',
    help: [
      'A patient the audit trail says had a state, and has none now, is refused and',
      'listed (exit 1): its state was deleted. After an investigation, --reset ID',
      'records that one patient again, as the rows are now. Resumable: a run stopped',
      'by Ctrl-C keeps the patients recorded so far, and the next run goes on.',
    ],
    options: {
      as: AS_ADMIN,
      reset: {
        ...PATIENT,
        required: false,
        description:
          'record this patient again (a state deleted or failing its MAC), audited as a reset',
      },
    },
    // Stops between two patients; each is its own transaction.
    handlesInterrupt: true,
    async run(rt, args) {
      const vault = await rt.vault()
      const admin = await rt.loginAs(stringArg(args, 'as'))
      const reset = optionalArg(args, 'reset')
      const progress = new Progress('chart baseline')
      const result = await vault.recordChartStates(admin, {
        signal: rt.signal,
        onProgress: (p) => progress.update(p.recorded + p.refused),
        ...(reset !== undefined ? { reset } : {}),
      })
      const stopped = rt.signal.aborted
      progress.done(
        `${result.recorded} recorded, ${result.refused.length} refused` +
          (stopped ? '; interrupted: run again to finish' : ''),
      )
      if (rt.json) out(toJson(result))
      else {
        out(
          reset !== undefined
            ? `Recorded the chart state of patient ${reset} again`
            : result.recorded === 0 && result.refused.length === 0
              ? 'Every patient already had a chart state'
              : `Recorded the chart states of ${result.recorded} patient(s)`,
        )
        for (const id of result.refused)
          out(
            `REFUSED ${id}: the audit trail records a chart state it no longer has; investigate, then --reset ${id}`,
          )
      }
      if (stopped) return interruption(rt.signal).exitCode
      return result.refused.length > 0 ? 1 : 0
    },
  },
]
