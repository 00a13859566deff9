import type { Command } from '../command.js'
import { UsageError } from '../command.js'
import { out, readSecret, toJson } from '../io.js'
import type { Role } from '../../services/domain.js'

function required(args: Record<string, unknown>, name: string): string {
  const value = args[name]
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`--${name} is required`)
  return value
}

export const userCommands: Command[] = [
  {
    path: ['user', 'create'],
    summary: 'register a user (password prompted, or one line on stdin)',
    usage:
      '--username NAME --name "Display Name" [--role clinician,admin,emergency] [--json]',
    options: {
      username: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
    },
    async run(rt, args) {
      const username = required(args, 'username')
      const displayName = required(args, 'name')
      const roles =
        typeof args['role'] === 'string' ? (args['role'].split(',') as Role[]) : undefined
      const password = await readSecret(
        `new password for ${username}`,
        rt.passwordFromStdin,
      )
      const user = await (
        await rt.vault()
      ).registerUser({
        username,
        displayName,
        password,
        ...(roles ? { roles } : {}),
      })
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
    usage: '--username NAME',
    options: { username: { type: 'string' } },
    async run(rt, args) {
      const vault = await rt.vault()
      const user = await vault.findUser(required(args, 'username'))
      if (verb === 'disable') await vault.disableUser(user.id)
      else await vault.enableUser(user.id)
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
      'change a password: old and new prompted without echo, or two lines on stdin',
    usage: '--username NAME',
    options: { username: { type: 'string' } },
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
      await (await rt.vault()).changePassword(username, oldPassword, newPassword)
      out(`Password changed for ${username}`)
      return 0
    },
  },
]

export { required }
