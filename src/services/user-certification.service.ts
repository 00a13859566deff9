import {
  lockUncertifiedUsers,
  setUserKeyCertificate,
} from '../repositories/user.repository.js'
import { appendAudit } from './audit.service.js'
import { auditedTransaction } from './audited.js'
import { requireRole } from './roles.js'
import type { UnlockedUser } from './unlocked-user.js'
import { certifyPublicKey } from './user-key-check.js'
import type { VaultContext } from './vault-context.js'

/** Users certified per transaction: a crash loses at most one batch's work. */
const CERTIFY_BATCH = 100

/**
 * The one-off step of a database made before public keys were certified: every
 * user without a certificate gets one for the public key their row holds now.
 *
 * What it vouches for: the keys as the database holds them at that moment. The
 * administrator who runs it trusts that no one has swapped a public key before
 * then (the protection starts here; it cannot look back). Run it soon after the
 * upgrade, from a database the deployment trusts. A user whose row was altered
 * earlier is caught only at their next login (the public key no longer matches
 * the private key their password opens).
 *
 * Each batch is one transaction, with an audit row per user certified
 * (`user.certify`, the administrator as actor, the user as target) and one for
 * the batch; a user already certified is left alone, so a second run, or a run
 * after a crash, certifies only the rest. Returns how many users it certified.
 */
export async function certifyUsers(
  ctx: VaultContext,
  admin: UnlockedUser,
): Promise<{ certified: number }> {
  let certified = 0
  let after: Buffer = Buffer.alloc(16)
  for (;;) {
    const act = { actorUserId: admin.userIdBytes, action: 'user.certify' } as const
    const batch = await auditedTransaction(
      ctx,
      act,
      async (trx) => {
        // Inside the audited transaction, so that a refused attempt is recorded.
        await requireRole(trx, admin, 'admin', 'certifying users')
        const users = await lockUncertifiedUsers(trx, after, CERTIFY_BATCH)
        let done = 0
        for (const user of users) {
          const certificate = certifyPublicKey(
            ctx,
            user.id,
            user.public_key_version,
            user.public_key,
          )
          if (
            await setUserKeyCertificate(
              trx,
              user.id,
              user.public_key,
              user.public_key_version,
              certificate,
            )
          ) {
            done++
            await appendAudit(trx, ctx.auditKey, {
              ...act,
              targetUserId: user.id,
              outcome: 'success',
              detail: `public key version ${user.public_key_version}`,
            })
          }
        }
        return { users, done }
      },
      (r) => ({ detail: `batch of ${r.done}` }),
    )
    certified += batch.done
    const last = batch.users.at(-1)
    if (!last || batch.users.length < CERTIFY_BATCH) break
    after = last.id
  }
  return { certified }
}
