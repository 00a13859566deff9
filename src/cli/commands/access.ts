import type { Command } from '../command.js'
import { UsageError } from '../command.js'
import { Progress } from '../progress.js'
import { out, toJson } from '../io.js'
import { required } from './users.js'

export const accessCommands: Command[] = [
  {
    path: ['grant'],
    summary:
      'grant a patient to a user; the acting user must hold a grant (their password is asked)',
    usage: '--as USER --patient ID --to USER [--json]',
    options: {
      as: { type: 'string' },
      patient: { type: 'string' },
      to: { type: 'string' },
    },
    async run(rt, args) {
      const session = await rt.loginAs(required(args, 'as'))
      const grantee = await (await rt.vault()).findUser(required(args, 'to'))
      const result = await session.grant(required(args, 'patient'), grantee.id)
      out(
        rt.json
          ? toJson(result)
          : result.created
            ? `Granted to ${grantee.username}`
            : `${grantee.username} already had access`,
      )
      return 0
    },
  },
  {
    path: ['revoke'],
    summary: "revoke a user's access and rotate the patient key in the same transaction",
    usage: '--as USER --patient ID --user USER [--json]',
    options: {
      as: { type: 'string' },
      patient: { type: 'string' },
      user: { type: 'string' },
    },
    async run(rt, args) {
      const session = await rt.loginAs(required(args, 'as'))
      const target = await (await rt.vault()).findUser(required(args, 'user'))
      const result = await session.revoke(required(args, 'patient'), target.id)
      out(
        rt.json
          ? toJson(result)
          : `Revoked ${target.username}; key v${result.fromVersion} -> v${result.toVersion}, ${result.rows} rows re-encrypted`,
      )
      return 0
    },
  },
  {
    path: ['access', 'list'],
    summary:
      'who can open a patient (--patient), or which patients the acting user can open',
    usage: '--as USER [--patient ID] [--json]',
    options: { as: { type: 'string' }, patient: { type: 'string' } },
    async run(rt, args) {
      const session = await rt.loginAs(required(args, 'as'))
      if (typeof args['patient'] === 'string') {
        const entries = await session.listAccess(args['patient'])
        if (rt.json) out(toJson(entries))
        else
          for (const e of entries)
            out(
              `${e.username.padEnd(20)} ${e.userId}  granted ${e.grantedAt.toISOString()}`,
            )
      } else {
        const ids = await session.listAccessiblePatients()
        if (rt.json) out(toJson(ids))
        else for (const id of ids) out(id)
      }
      return 0
    },
  },
  {
    path: ['rotate'],
    summary:
      'rotate one patient key (--patient, as a grant holder) or every key (--all, admin + recovery key)',
    usage: '--as USER (--patient ID | --all --recovery-key FILE) [--json]',
    options: {
      as: { type: 'string' },
      patient: { type: 'string' },
      all: { type: 'boolean' },
      'recovery-key': { type: 'string' },
    },
    async run(rt, args) {
      if (args['all'] === true) {
        const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
          required(args, 'recovery-key'),
          required(args, 'as'),
        )
        const stop = new AbortController()
        const onSignal = () => stop.abort()
        process.once('SIGINT', onSignal)
        const progress = new Progress('rotate --all')
        try {
          const result = await (
            await rt.vault()
          ).rotateAll(
            { admin, recoveryPrivateKey },
            {
              signal: stop.signal,
              onProgress: (p) => progress.update(p.rotated, p.total),
            },
          )
          progress.done(
            `${result.rotated} patients rotated${result.resumed ? ' (resumed an unfinished run)' : ''}` +
              (result.failed.length
                ? `; ${result.failed.length} failed integrity checks`
                : '') +
              (stop.signal.aborted ? '; interrupted: run again to finish' : ''),
          )
          if (rt.json) out(toJson(result))
          if (stop.signal.aborted) return 130
          return result.failed.length ? 6 : 0
        } finally {
          process.off('SIGINT', onSignal)
        }
      }
      if (typeof args['patient'] !== 'string')
        throw new UsageError('give --patient ID or --all')
      const session = await rt.loginAs(required(args, 'as'))
      const result = await session.rotatePatientKey(args['patient'])
      out(
        rt.json
          ? toJson(result)
          : `Rotated: key v${result.fromVersion} -> v${result.toVersion}, ${result.rows} rows re-encrypted`,
      )
      return 0
    },
  },
]
