import { stringArg, type Command } from '../command.js'
import { newFile } from '../flag-checks.js'
import { interruption } from '../interrupt.js'
import { out, toJson } from '../io.js'
import { Progress } from '../progress.js'
import { AS_ADMIN, PATIENT, RECOVERY_KEY, USER } from './flags.js'

export const recoveryCommands: Command[] = [
  {
    path: ['recovery', 'init'],
    summary:
      'create the organisation recovery key pair; the private key goes to FILE (0600), never the database',
    usage: '--out FILE [--json]',
    options: {
      out: {
        type: 'string',
        value: 'FILE',
        description: 'where to write the key pair; an existing file is never overwritten',
        required: true,
        check: newFile,
      },
    },
    offline: true,
    async run(rt, args) {
      const file = stringArg(args, 'out')
      const [{ generateUserKeyPair }, { writeRecoveryKeyFile }] = await Promise.all([
        import('../../crypto/keypair.js'),
        import('../recovery-key-file.js'),
      ])
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
      as: AS_ADMIN,
      user: { ...USER, description: 'the user who forgot the password' },
      'recovery-key': RECOVERY_KEY,
    },
    async run(rt, args) {
      const username = stringArg(args, 'user')
      const vault = await rt.vault()
      await vault.findUser(username) // before any password is asked
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      const newPassword = await rt.secret(`new password for ${username}`)
      const result = await vault.recoverUser(
        { admin, recoveryPrivateKey },
        username,
        newPassword,
      )
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
      as: AS_ADMIN,
      patient: PATIENT,
      user: { ...USER, description: 'the user who gets access' },
      'recovery-key': RECOVERY_KEY,
    },
    async run(rt, args) {
      const vault = await rt.vault()
      const user = await vault.findUser(stringArg(args, 'user'))
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      const result = await vault.restorePatientAccess(
        { admin, recoveryPrivateKey },
        stringArg(args, 'patient'),
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
    options: { as: AS_ADMIN, 'recovery-key': RECOVERY_KEY },
    async run(rt, args) {
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
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
      as: AS_ADMIN,
      user: { ...USER, description: 'a user with the emergency role' },
      'recovery-key': RECOVERY_KEY,
    },
    async run(rt, args) {
      const vault = await rt.vault()
      const user = await vault.findUser(stringArg(args, 'user'))
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      await vault.grantEmergencyKey({ admin, recoveryPrivateKey }, user.id)
      out(`${user.username} now holds the emergency key`)
      return 0
    },
  },
  {
    path: ['emergency', 'revoke'],
    summary: 'take the emergency key away from a user (role withdrawn, leaving)',
    usage: '--as ADMIN --user USER',
    options: {
      as: AS_ADMIN,
      user: { ...USER, description: 'the user who loses the emergency key' },
    },
    async run(rt, args) {
      const vault = await rt.vault()
      const user = await vault.findUser(stringArg(args, 'user'))
      const admin = await rt.loginAs(stringArg(args, 'as'))
      const held = await vault.revokeEmergencyKey(admin, user.id)
      out(
        held
          ? `${user.username} no longer holds the emergency key`
          : `${user.username} did not hold it`,
      )
      // A copy in an old backup still opens with their old password until the
      // key itself is rotated.
      if (held)
        out(
          `A copy of the emergency key in an older backup still opens with ${user.username}'s old password: ` +
            'rotate it now with `emr-vault emergency rotate --as ADMIN --recovery-key FILE`',
        )
      return 0
    },
  },
  {
    path: ['emergency', 'rotate'],
    summary:
      'replace the emergency key pair: every patient re-sealed, the old key destroyed (resumable)',
    usage: '--as ADMIN --recovery-key FILE [--json]',
    options: { as: AS_ADMIN, 'recovery-key': RECOVERY_KEY },
    // Stops between two patients, where a new run picks up.
    handlesInterrupt: true,
    async run(rt, args) {
      const { admin, recoveryPrivateKey } = await rt.recoveryAuthority(
        stringArg(args, 'recovery-key'),
        stringArg(args, 'as'),
      )
      const progress = new Progress('emergency rotate')
      const result = await (
        await rt.vault()
      ).rotateEmergencyKey(
        { admin, recoveryPrivateKey },
        {
          signal: rt.signal,
          onProgress: (p) => progress.update(p.resealed, p.total),
        },
      )
      const stopped = rt.signal.aborted && !result.finished
      progress.done(
        `v${result.fromVersion} -> v${result.toVersion}` +
          (result.resumed
            ? ' (resumed)'
            : `, ${result.holders} holders given the new key`) +
          `; ${result.resealed} patients re-sealed` +
          (result.finished
            ? `; old key destroyed (${result.retired.holders} holder copies, ${result.retired.seals} leftover seals)`
            : '') +
          (stopped ? '; interrupted: run again to finish' : ''),
      )
      if (rt.json) out(toJson(result))
      else if (result.finished)
        out(`Emergency key rotated to version ${result.toVersion}; note the version.`)
      if (stopped) return interruption(rt.signal).exitCode
      return 0
    },
  },
]
