import { runDoctor, worstStatus } from '../../services/doctor.service.js'
import type { Command } from '../command.js'
import { devRecoveryPublicKey } from '../deployment-keys.js'
import { out, toJson } from '../io.js'

/** `doctor`: the server posture check (src/services/doctor.service.ts). */
export const doctorCommands: Command[] = [
  {
    path: ['doctor'],
    summary:
      'check the server for settings that would leak keys; PASS / WARN / FAIL with the fix; exit 1 on FAIL',
    usage: '[--app-user USER@HOST] [--json]',
    options: { 'app-user': { type: 'string' } },
    async run(rt, args) {
      const appUser = args['app-user']
      const checks = await runDoctor(await rt.db(), {
        recoveryPublicKey: devRecoveryPublicKey(),
        ...(typeof appUser === 'string' ? { appUser } : {}),
      })
      if (rt.json) out(toJson(checks))
      else
        for (const c of checks) {
          out(`${c.status.padEnd(4)} ${c.title}: ${c.detail}`)
          if (c.fix && c.status !== 'PASS') out(`     fix: ${c.fix}`)
        }
      return worstStatus(checks) === 'FAIL' ? 1 : 0
    },
  },
]
