import { AccessDeniedError } from '../errors/index.js'
import { findUserById } from '../repositories/user.repository.js'
import type { Executor } from '../sql/prepared.js'
import type { Role } from './domain.js'
import type { UnlockedUser } from './unlocked-user.js'

/**
 * The session is open and its user holds `role` *now*: read from the database,
 * not from the login, so a user disabled or stripped of the role while logged in
 * loses it at once (roles were read at login time).
 */
export async function requireRole(
  db: Executor,
  session: UnlockedUser,
  role: Role,
  act: string,
): Promise<void> {
  session.privateKey() // an open, unexpired session
  const row = await findUserById(db, session.userIdBytes)
  if (!row || row.disabled_at !== null || !row.roles.split(',').includes(role)) {
    throw new AccessDeniedError(`${act} needs the ${role} role`)
  }
}
