import { existsSync } from 'node:fs'
import { generateUserKeyPair } from '../../crypto/keypair.js'
import { ConfigurationError } from '../../errors/index.js'
import type { Command } from '../command.js'
import { out, readSecret, toJson } from '../io.js'
import { writeRecoveryKeyFile } from '../recovery-key-file.js'
import { required } from './users.js'

export const recoveryCommands: Command[] = [
  {
    path: ['recovery', 'init'],
    summary:
      'create the organisation recovery key pair; the private key goes to FILE (0600), never the database',
    usage: '--out FILE [--json]',
    options: { out: { type: 'string' } },
    offline: true,
    async run(rt, args) {
      const file = required(args, 'out')
      if (existsSync(file)) {
        throw new ConfigurationError(
          `${file} exists; refusing to overwrite a recovery key (move it away first)`,
        )
      }
      const pair = generateUserKeyPair()
      writeRecoveryKeyFile(file, pair)
      const publicKey = pair.publicKey.toString('base64')
      pair.privateKey.fill(0)
      if (rt.json) out(toJson({ file, publicKey }))
      else {
        out(`Wrote the recovery private key to ${file} (mode 0600). Keep it offline.`)
        out(`Configure the public key: EMR_VAULT_RECOVERY_PUBLIC_KEY=${publicKey}`)
      }
      return 0
    },
  },
  {
    path: ['recovery', 'regrant'],
    summary:
      'a user forgot the password: new key pair and password, their patients re-granted from the recovery key',
    usage:
      "--as ADMIN --user USER --recovery-key FILE (admin password, then the user's new password)",
    options: {
      as: { type: 'string' },
      user: { type: 'string' },
      'recovery-key': { type: 'string' },
    },
    async run(rt, args) {
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        required(args, 'recovery-key'),
        required(args, 'as'),
      )
      const username = required(args, 'user')
      const newPassword = await readSecret(
        `new password for ${username}`,
        rt.passwordFromStdin,
      )
      const result = await (
        await rt.vault()
      ).recoverUser({ admin, recoveryPrivateKey }, username, newPassword)
      out(
        rt.json
          ? toJson(result)
          : `Recovered ${username}: ${result.patients} patients re-granted`,
      )
      return 0
    },
  },
  {
    path: ['recovery', 'restore'],
    summary:
      "grant a patient to a user from the patient's recovery seal (e.g. every grantee is gone)",
    usage: '--as ADMIN --patient ID --user USER --recovery-key FILE [--json]',
    options: {
      as: { type: 'string' },
      patient: { type: 'string' },
      user: { type: 'string' },
      'recovery-key': { type: 'string' },
    },
    async run(rt, args) {
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        required(args, 'recovery-key'),
        required(args, 'as'),
      )
      const vault = await rt.vault()
      const user = await vault.findUser(required(args, 'user'))
      const result = await vault.restorePatientAccess(
        { admin, recoveryPrivateKey },
        required(args, 'patient'),
        user.id,
      )
      out(
        rt.json
          ? toJson(result)
          : result.created
            ? `Restored access for ${user.username}`
            : `${user.username} already had access`,
      )
      return 0
    },
  },
  {
    path: ['emergency', 'setup'],
    summary:
      'create the break-glass emergency key and seal every patient to it (resumable)',
    usage: '--as ADMIN --recovery-key FILE',
    options: { as: { type: 'string' }, 'recovery-key': { type: 'string' } },
    async run(rt, args) {
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        required(args, 'recovery-key'),
        required(args, 'as'),
      )
      const result = await (
        await rt.vault()
      ).setUpEmergencyAccess({ admin, recoveryPrivateKey })
      out(
        rt.json
          ? toJson(result)
          : `Emergency key ${result.created ? 'created' : 'present'}; ${result.sealed} patients sealed to it`,
      )
      return 0
    },
  },
  {
    path: ['emergency', 'grant'],
    summary: 'give a user with the emergency role the emergency key (break-glass)',
    usage: '--as ADMIN --user USER --recovery-key FILE',
    options: {
      as: { type: 'string' },
      user: { type: 'string' },
      'recovery-key': { type: 'string' },
    },
    async run(rt, args) {
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        required(args, 'recovery-key'),
        required(args, 'as'),
      )
      const vault = await rt.vault()
      const user = await vault.findUser(required(args, 'user'))
      await vault.grantEmergencyKey({ admin, recoveryPrivateKey }, user.id)
      out(`${user.username} now holds the emergency key`)
      return 0
    },
  },
  {
    path: ['emergency', 'revoke'],
    summary: 'take the emergency key away from a user (role withdrawn, leaving)',
    usage: '--as ADMIN --user USER',
    options: { as: { type: 'string' }, user: { type: 'string' } },
    async run(rt, args) {
      const admin = await rt.loginAs(required(args, 'as'))
      const vault = await rt.vault()
      const user = await vault.findUser(required(args, 'user'))
      const held = await vault.revokeEmergencyKey(admin, user.id)
      out(
        held
          ? `${user.username} no longer holds the emergency key`
          : `${user.username} did not hold it`,
      )
      return 0
    },
  },
]
