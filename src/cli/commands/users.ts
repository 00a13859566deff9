import { ValidationError } from '../../errors/index.js'
import { ROLES, type Role } from '../../services/domain.js'
import type { Session } from '../../services/session.js'
import { stringArg, UsageError, type Args, type Command } from '../command.js'
import { nonBlank } from '../flag-checks.js'
import { out, stdinIsTerminal, toJson } from '../io.js'
import type { CliRuntime } from '../runtime.js'
import { AS_ADMIN } from './flags.js'

/**
 * The administrator acting (`--as`, password asked first), recorded in the audit
 * log. Only the very first user of an empty database may be created without one.
 */
async function actingAdmin(rt: CliRuntime, args: Args): Promise<Session | undefined> {
  if (typeof args['as'] === 'string') return rt.loginAs(args['as'])
  if ((await (await rt.vault()).listUsers()).length === 0) return undefined
  throw new UsageError(AS_ADMIN.required as string)
}

/** The library's rule for a new username, checked before any password is asked. */
async function newUsername(value: string): Promise<void> {
  // Loaded here, not at start: the services are not needed for --help.
  const { checkUsername } = await import('../../services/user.service.js')
  checkUsername(value)
}

/** `clinician,admin`: the library's roles, refused as the library would refuse them. */
function roleList(value: string): void {
  if (value.split(',').some((r) => !ROLES.includes(r as Role)))
    throw new ValidationError('roles', `must be a list of ${ROLES.join(', ')}`)
}

const USERNAME = {
  type: 'string',
  value: 'NAME',
  description: 'the username',
  required: true,
} as const

export const userCommands: Command[] = [
  {
    path: ['user', 'create'],
    summary:
      "register a user as an administrator (--as: admin's password, then the new user's; only the first user may be created without --as)",
    usage:
      '--as ADMIN --username NAME --name "Display Name" [--role clinician,admin,emergency] [--json]',
    options: {
      as: { ...AS_ADMIN, required: false },
      username: {
        ...USERNAME,
        description: 'the new username: 3-64 of a-z 0-9 . _ - (lower case)',
        check: newUsername,
      },
      name: {
        type: 'string',
        value: '"Display Name"',
        description: 'the name shown for the user',
        required: true,
        check: nonBlank,
      },
      role: {
        type: 'string',
        value: 'ROLES',
        description: `comma-separated, of ${ROLES.join(', ')} (default clinician)`,
        check: roleList,
      },
    },
    async run(rt, args) {
      const username = stringArg(args, 'username')
      const displayName = stringArg(args, 'name')
      const vault = await rt.vault()
      // A taken name is refused before two passwords are typed for it (the
      // library refuses it again if another administrator takes it meanwhile).
      if ((await vault.listUsers()).some((u) => u.username === username))
        throw new ValidationError('username', 'is already taken')
      const admin = await actingAdmin(rt, args)
      const roles =
        typeof args['role'] === 'string' ? (args['role'].split(',') as Role[]) : undefined
      const password = await rt.secret(`new password for ${username}`)
      const user = await vault.registerUser(
        { username, displayName, password, ...(roles ? { roles } : {}) },
        admin,
      )
      out(
        rt.json
          ? toJson(user)
          : `Created user ${user.username} (${user.id}) with roles ${user.roles.join(',')}`,
      )
      return 0
    },
  },
  ...(['disable', 'enable'] as const).map((verb): Command => ({
    path: ['user', verb],
    summary:
      verb === 'disable'
        ? 'disable a user: their sessions lose access at once'
        : 'enable a disabled user',
    usage: '--as ADMIN --username NAME',
    options: { as: AS_ADMIN, username: USERNAME },
    async run(rt, args) {
      const vault = await rt.vault()
      const user = await vault.findUser(stringArg(args, 'username'))
      const admin = await actingAdmin(rt, args)
      if (verb === 'disable') await vault.disableUser(user.id, admin)
      else await vault.enableUser(user.id, admin)
      out(`${verb === 'disable' ? 'Disabled' : 'Enabled'} ${user.username}`)
      return 0
    },
  })),
  {
    path: ['user', 'certify'],
    summary:
      'certify the public key of every user who has none (once, after upgrading a database made before certificates): vouches for the keys as the database holds them now',
    usage: '--as ADMIN [--json]',
    options: { as: AS_ADMIN },
    async run(rt, args) {
      const vault = await rt.vault()
      const admin = await rt.loginAs(stringArg(args, 'as'))
      const result = await vault.certifyUsers(admin)
      out(
        rt.json
          ? toJson(result)
          : result.certified === 0
            ? 'Every user already had a certified public key'
            : `Certified the public keys of ${result.certified} user(s)`,
      )
      return 0
    },
  },
  {
    path: ['user', 'list'],
    summary: 'list users',
    usage: '[--json]',
    async run(rt) {
      const users = await (await rt.vault()).listUsers()
      if (rt.json) out(toJson(users))
      else
        for (const u of users)
          out(
            `${u.username.padEnd(20)} ${u.id}  ${u.roles.join(',')}${u.disabled ? '  (disabled)' : ''}`,
          )
      return 0
    },
  },
  {
    path: ['password', 'change'],
    summary:
      'change a password: old and new prompted without echo, or two lines on stdin; --rekey also replaces the key pair (after a suspected compromise)',
    usage: '--username NAME [--rekey]',
    options: {
      username: USERNAME,
      rekey: {
        type: 'boolean',
        description:
          'also a new key pair, every grant re-sealed to it (an old wrapped key then opens nothing)',
      },
    },
    async run(rt, args) {
      const username = stringArg(args, 'username')
      const oldPassword = await rt.secret(`current password for ${username}`)
      const newPassword = await rt.secret(`new password for ${username}`)
      if (stdinIsTerminal() && !rt.passwordFromStdin) {
        const again = await rt.secret('repeat the new password')
        if (again !== newPassword) throw new UsageError('the new passwords do not match')
      }
      await (
        await rt.vault()
      ).changePassword(username, oldPassword, newPassword, {
        rekey: args['rekey'] === true,
      })
      out(`Password changed for ${username}`)
      return 0
    },
  },
]
