import type { Knex } from 'knex'
import {
  listEmergencyKeys,
  recordedEmergencyRotations,
} from '../repositories/emergency-key.repository.js'
import { line, type PostureCheck } from './doctor-check.js'

/**
 * The emergency (break-glass) key against what the audit trail records of its
 * rotations (emergency-rotation.service.ts; emergency-key-versions.ts says what
 * a database writer can do).
 *
 * - FAIL: the current key is older than the last rotation the trail records, or
 *   a version the trail records as retired is stored again: a retired key row
 *   put back (from a backup) with its own valid pin, to which new patients
 *   would be sealed, and whose old copies former holders may still have.
 * - WARN: a rotation is under way (two versions stored): the old key, and every
 *   old copy of it, still opens the patients not re-sealed yet.
 * - PASS otherwise, also when no emergency key is set up. Reads rows only: the
 *   pins themselves need the audit key, which the doctor is not given; every
 *   seal to the key checks its pin.
 */
export const EMERGENCY_KEY = line('emergency_key', 'Emergency key not rolled back')

export async function emergencyKeyCheck(db: Knex): Promise<PostureCheck> {
  const check = EMERGENCY_KEY
  if (!(await db.schema.hasColumn('emergency_key', 'version'))) {
    return check.warn(
      'emergency_key has no version column.',
      'Run the migrations (emr-vault migrate, or migrateLatest(db)) with this release.',
    )
  }
  const keys = await listEmergencyKeys(db)
  const current = keys[keys.length - 1]
  if (!current) return check.pass('No emergency key is set up (break-glass is off).')
  const { startedTo, finishedTo } = await recordedEmergencyRotations(db)
  const fix =
    'Treat it as an incident: find who wrote to emergency_key, then rotate the key ' +
    '(emr-vault emergency rotate --as ADMIN --recovery-key FILE), which destroys every older version.'
  if (current.version < startedTo) {
    return check.fail(
      `The emergency key is version ${current.version}, but the audit trail records a rotation to ` +
        `version ${startedTo}: a retired key was put back, and new patients are sealed to it.`,
      fix,
    )
  }
  const retired = keys.filter((k) => k.version < finishedTo).map((k) => k.version)
  if (retired.length > 0) {
    return check.fail(
      `Emergency key version(s) ${retired.join(', ')} are stored again, though the audit trail ` +
        `records them retired by the rotation to version ${finishedTo}.`,
      fix,
    )
  }
  if (keys.length > 1) {
    return check.warn(
      `A rotation of the emergency key from version ${keys[0]!.version} to ${current.version} is under way: ` +
        'the old key still opens the patients not re-sealed yet.',
      'Finish it: emr-vault emergency rotate --as ADMIN --recovery-key FILE (it resumes).',
    )
  }
  return check.pass(`Emergency key version ${current.version}, no rotation under way.`)
}
