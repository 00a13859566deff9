import { optionalArg, stringArg, UsageError, type Command } from '../command.js'
import { interruption } from '../interrupt.js'
import { out, toJson } from '../io.js'
import { Progress } from '../progress.js'
import { AS_USER, PATIENT, RECOVERY_KEY, USER } from './flags.js'

export const accessCommands: Command[] = [
  {
    path: ['grant'],
    summary:
      'grant a patient to a user; the acting user must hold a grant (their password is asked)',
    usage: '--as USER --patient ID --to USER [--json]',
    options: {
      as: AS_USER,
      patient: PATIENT,
      to: { ...USER, description: 'the user who gets access' },
    },
    async run(rt, args) {
      // The grantee is looked up before the password is asked: a typo costs nothing.
      const grantee = await (await rt.vault()).findUser(stringArg(args, 'to'))
      const session = await rt.loginAs(stringArg(args, 'as'))
      const result = await session.grant(stringArg(args, 'patient'), grantee.id)
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
      as: AS_USER,
      patient: PATIENT,
      user: { ...USER, description: 'the user whose access ends' },
    },
    async run(rt, args) {
      const target = await (await rt.vault()).findUser(stringArg(args, 'user'))
      const session = await rt.loginAs(stringArg(args, 'as'))
      const result = await session.revoke(stringArg(args, 'patient'), target.id)
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
    options: {
      as: AS_USER,
      patient: {
        ...PATIENT,
        required: false,
        description: 'list who can open this patient (a UUID)',
      },
    },
    async run(rt, args) {
      const session = await rt.loginAs(stringArg(args, 'as'))
      const patientId = optionalArg(args, 'patient')
      if (patientId !== undefined) {
        const entries = await session.listAccess(patientId)
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
      as: {
        ...AS_USER,
        description:
          'the user acting: a grant holder of --patient, or an administrator for --all',
      },
      patient: { ...PATIENT, required: false, description: 'the patient (a UUID)' },
      all: {
        type: 'boolean',
        description:
          'every patient key, resumable; Ctrl-C stops between two patients (run again to finish)',
      },
      'recovery-key': {
        ...RECOVERY_KEY,
        required: false,
        description: 'with --all: ' + RECOVERY_KEY.description,
      },
    },
    // rotate --all stops between two patients, where a new run picks up.
    handlesInterrupt: true,
    validate(args) {
      const all = args['all'] === true
      const patient = optionalArg(args, 'patient') !== undefined
      if (all === patient) throw new UsageError('give --patient ID or --all')
      if (all && optionalArg(args, 'recovery-key') === undefined)
        throw new UsageError('--all needs --recovery-key FILE')
      if (!all && optionalArg(args, 'recovery-key') !== undefined)
        throw new UsageError('--recovery-key goes with --all')
    },
    async run(rt, args) {
      if (args['all'] !== true) {
        const session = await rt.loginAs(stringArg(args, 'as'))
        const result = await session.rotatePatientKey(stringArg(args, 'patient'))
        out(
          rt.json
            ? toJson(result)
            : `Rotated: key v${result.fromVersion} -> v${result.toVersion}, ${result.rows} rows re-encrypted`,
        )
        return 0
      }
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      const progress = new Progress('rotate --all')
      const result = await (
        await rt.vault()
      ).rotateAll(
        { admin, recoveryPrivateKey },
        {
          signal: rt.signal,
          onProgress: (p) => progress.update(p.rotated, p.total),
        },
      )
      const stopped = rt.signal.aborted && !result.finished
      progress.done(
        `${result.rotated} patients rotated${result.resumed ? ' (resumed an unfinished run)' : ''}` +
          (result.failed.length
            ? `; ${result.failed.length} failed integrity checks`
            : '') +
          (stopped ? '; interrupted: run again to finish' : ''),
      )
      if (rt.json) out(toJson(result))
      if (stopped) return interruption(rt.signal).exitCode
      return result.failed.length ? 6 : 0
    },
  },
]
