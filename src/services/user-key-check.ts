import { wipe } from '../crypto/bytes.js'
import {
  userCertificationKey,
  userKeyCertificate,
  verifyUserKeyCertificate,
} from '../crypto/user-key-certificate.js'
import { rowIdToString } from '../db/row-id.js'
import { IntegrityError } from '../errors/index.js'
import type { UserRow } from '../repositories/user.row.js'
import type { VaultContext } from './vault-context.js'

/** The columns of a user a seal to their public key depends on. */
export type UserKeyColumns = Pick<
  UserRow,
  'public_key' | 'public_key_version' | 'public_key_certificate'
> & { readonly id: Buffer }

/**
 * The certificate of a public key being enrolled or changed (registration, a
 * rekey, a recovery): written in the same statement as the key.
 */
export function certifyPublicKey(
  ctx: VaultContext,
  userId: Buffer,
  keyVersion: number,
  publicKey: Buffer,
): Buffer {
  const certKey = userCertificationKey(ctx.auditKey)
  try {
    return userKeyCertificate(certKey, { userId, keyVersion, publicKey })
  } finally {
    wipe(certKey)
  }
}

/**
 * Refuses, before anything is sealed, any user whose stored public key does not
 * carry this deployment's certificate: a key written to `users` by anyone but
 * emr-vault (a DBA, an injection, a restored row of another user or of an older
 * key version) would otherwise receive the patient key. Checks every user given,
 * so a rotation refuses as a whole before it seals to any of them.
 *
 * @throws IntegrityError naming the first user (by id) whose certificate is
 *   missing or wrong, and what to do
 */
export function requireCertifiedKeys(
  ctx: VaultContext,
  users: readonly UserKeyColumns[],
): void {
  if (users.length === 0) return
  const certKey = userCertificationKey(ctx.auditKey)
  try {
    for (const user of users) {
      const id = rowIdToString(user.id)
      if (user.public_key_certificate === null) {
        throw new IntegrityError(
          `user ${id} has no certificate for their public key, so nothing is sealed to them: ` +
            'an administrator certifies the existing users once with ' +
            '`emr-vault user certify --as ADMIN` (vault.certifyUsers)',
        )
      }
      const key = {
        userId: user.id,
        keyVersion: user.public_key_version,
        publicKey: user.public_key,
      }
      if (!verifyUserKeyCertificate(certKey, key, user.public_key_certificate)) {
        throw new IntegrityError(
          `the public key of user ${id} does not match its certificate ` +
            '(it was changed outside emr-vault); nothing was sealed to it',
        )
      }
    }
  } finally {
    wipe(certKey)
  }
}
