import type { Command } from '../command.js'
import { optionalArg } from '../command.js'
import { account } from '../flag-checks.js'
import { out, toJson } from '../io.js'

/** `doctor`: the server posture check of the library's runDoctor. */
export const doctorCommands: Command[] = [
  {
    path: ['doctor'],
    summary:
      'check the server for settings that would leak keys; PASS / WARN / FAIL with the fix; exit 1 on FAIL',
    usage: '[--app-user USER@HOST] [--json]',
    options: {
      'app-user': {
        type: 'string',
        value: 'USER@HOST',
        description:
          "the application's MySQL account, when a DBA account runs the doctor (default: this connection's)",
        check: account,
      },
    },
    async run(rt, args) {
      // Loaded here, not at start: --help needs none of the doctor's checks.
      const [{ runDoctor, worstStatus }, { devRecoveryPublicKey }] = await Promise.all([
        import('../../services/doctor.service.js'),
        import('../deployment-keys.js'),
      ])
      const appUser = optionalArg(args, 'app-user')
      const checks = await runDoctor(await rt.db(), {
        recoveryPublicKey: devRecoveryPublicKey(),
        ...(appUser === undefined ? {} : { appUser }),
      })
      if (rt.json) out(toJson(checks))
      else {
        for (const c of checks) {
          out(`${c.status.padEnd(4)} ${c.title}: ${c.detail}`)
          if (c.fix && c.status !== 'PASS') out(`     fix: ${c.fix}`)
        }
        // One line to read at a glance, or to grep in a scheduled job's log.
        const count = (status: string) => checks.filter((c) => c.status === status).length
        out(
          `doctor: ${checks.length} checks, ${count('PASS')} PASS, ${count('WARN')} WARN, ${count('FAIL')} FAIL`,
        )
      }
      return worstStatus(checks) === 'FAIL' ? 1 : 0
    },
  },
]
