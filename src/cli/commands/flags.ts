import type { Flag } from '../command.js'
import { recoveryKeyFile, uuidOf } from '../flag-checks.js'

/** Flags several commands share, described once. */

export const AS_USER: Flag = {
  type: 'string',
  value: 'USER',
  description: 'the user acting; their password is asked (or read from stdin)',
  required: true,
}

export const AS_ADMIN: Flag = {
  type: 'string',
  value: 'ADMIN',
  description:
    'the administrator acting, recorded in the audit log; their password is asked',
  required: '--as ADMIN is required: the administrator acting, recorded in the audit log',
}

export const PATIENT: Flag = {
  type: 'string',
  value: 'ID',
  description: 'the patient id (a UUID)',
  required: true,
  check: uuidOf('patientId'),
}

export const USER: Flag = {
  type: 'string',
  value: 'USER',
  description: 'the user it is about (a username)',
  required: true,
}

export const RECOVERY_KEY: Flag = {
  type: 'string',
  value: 'FILE',
  description:
    'the recovery key file (from recovery init, mode 0600), checked before any password is asked',
  required: true,
  check: recoveryKeyFile,
}
