import type { Knex } from 'knex'
import { deriveFieldKeys, hmacPads } from '../../src/crypto/field-keys.js'
import { deriveKek } from '../../src/crypto/kek.js'
import { openPatientKey } from '../../src/crypto/patient-key-seal.js'
import { unwrapPrivateKey } from '../../src/crypto/private-key-wrap.js'
import { rowIdToString } from '../../src/db/row-id.js'

/** A secret a test searches for, with a name for the failure message. */
export interface NamedSecret {
  readonly name: string
  readonly bytes: Buffer
}

/**
 * Recomputes, from the user's password and the stored rows, every key the layer
 * handles for that user: KEK, private key, and for each patient they hold a
 * grant for, the patient key, its field subkeys and HMAC pads. Used to search
 * dumps and server channels for them.
 */
export async function secretsOf(
  db: Knex,
  username: string,
  password: string,
): Promise<NamedSecret[]> {
  const [user] = await db('users').where({ username })
  const userId = rowIdToString(user.id)
  const kek = await deriveKek(password, user.kdf_salt, {
    N: 2 ** user.kdf_log_n,
    r: user.kdf_r,
    p: user.kdf_p,
  })
  const privateKey = unwrapPrivateKey(user.wrapped_private_key, kek, userId)
  const secrets: NamedSecret[] = [
    { name: `${username} KEK`, bytes: kek },
    { name: `${username} private key`, bytes: privateKey },
  ]
  const grants = await db('patient_key_grants').where({ user_id: user.id })
  for (const grant of grants) {
    const patientId = rowIdToString(grant.patient_id)
    const patientKey = await openPatientKey(grant.sealed_key, privateKey, {
      patientId,
      keyVersion: grant.key_version,
      recipientId: userId,
    })
    const { enc, mac } = deriveFieldKeys(patientKey)
    const { inner, outer } = hmacPads(mac)
    const tag = `patient ${patientId} v${grant.key_version}`
    secrets.push(
      { name: `${tag} key`, bytes: patientKey },
      { name: `${tag} enc subkey`, bytes: enc },
      { name: `${tag} mac subkey`, bytes: mac },
      { name: `${tag} inner pad`, bytes: inner },
      { name: `${tag} outer pad`, bytes: outer },
    )
  }
  return secrets
}

/** Names of the secrets found in `haystack`, raw or as hex (either case). */
export function findSecrets(haystack: Buffer, secrets: readonly NamedSecret[]): string[] {
  const text = haystack.toString('latin1').toLowerCase()
  return secrets
    .filter(
      (s) =>
        haystack.includes(s.bytes) ||
        text.includes(s.bytes.toString('hex')) ||
        // A prefix is enough to count as a leak: 12 bytes of a key are not chance.
        haystack.includes(s.bytes.subarray(0, 12)),
    )
    .map((s) => s.name)
}
