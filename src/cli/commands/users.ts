import type { Command } from '../command.js'
import { UsageError } from '../command.js'
import { out, readSecret, toJson } from '../io.js'
import type { Role } from '../../services/domain.js'
import type { Session } from '../../services/session.js'
import type { CliRuntime } from '../runtime.js'

/**
 * The administrator acting (`--as`, password asked first), recorded in the audit
 * log. Only the very first user of an empty database may be created without one.
 */
async function actingAdmin(
  rt: CliRuntime,
  args: Record<string, unknown>,
  bootstrap: boolean,
): Promise<Session | undefined> {
  if (typeof args['as'] === 'string') return rt.loginAs(args['as'])
  if (bootstrap && (await (await rt.vault()).listUsers()).length === 0) return undefined
  throw new UsageError(
    '--as ADMIN is required: the administrator acting, recorded in the audit log',
  )
}

function required(args: Record<string, unknown>, name: string): string {
  const value = args[name]
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`--${name} is required`)
  return value
}

export const userCommands: Command[] = [
  {
    path: ['user', 'create'],
    summary:
      "register a user as an administrator (--as: admin's password, then the new user's; only the first user may be created without --as)",
    usage:
      '--as ADMIN --username NAME --name "Display Name" [--role clinician,admin,emergency] [--json]',
    options: {
      as: { type: 'string' },
      username: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
    },
    async run(rt, args) {
      const username = required(args, 'username')
      const displayName = required(args, 'name')
      const admin = await actingAdmin(rt, args, true)
      const roles =
        typeof args['role'] === 'string' ? (args['role'].split(',') as Role[]) : undefined
      const password = await readSecret(
        `new password for ${username}`,
        rt.passwordFromStdin,
      )
      const user = await (
        await rt.vault()
      ).registerUser(
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
    options: { as: { type: 'string' }, username: { type: 'string' } },
    async run(rt, args) {
      const vault = await rt.vault()
      const user = await vault.findUser(required(args, 'username'))
      const admin = await actingAdmin(rt, args, false)
      if (verb === 'disable') await vault.disableUser(user.id, admin)
      else await vault.enableUser(user.id, admin)
      out(`${verb === 'disable' ? 'Disabled' : 'Enabled'} ${user.username}`)
      return 0
    },
  })),
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
    options: { username: { type: 'string' }, rekey: { type: 'boolean' } },
    async run(rt, args) {
      const username = required(args, 'username')
      const oldPassword = await readSecret(
        `current password for ${username}`,
        rt.passwordFromStdin,
      )
      const newPassword = await readSecret(
        `new password for ${username}`,
        rt.passwordFromStdin,
      )
      if (process.stdin.isTTY && !rt.passwordFromStdin) {
        const again = await readSecret('repeat the new password', false)
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

export { required }
