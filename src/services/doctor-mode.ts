import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { envelopeAad, openEnvelope } from '../crypto/envelope.js'
import { sealSql, sqlFieldKeys } from '../sql/envelope-sql.js'
import { isModeRefusalError } from '../sql/mode-guard.js'
import { selectRows } from '../sql/prepared.js'
import { line, type PostureCheck } from './doctor-check.js'

export const BLOCK_ENCRYPTION_MODE = line(
  'block_encryption_mode',
  'block_encryption_mode = aes-256-cbc on the pool, and enforced by the statements',
)

const CBC = 'aes-256-cbc'
const FIX =
  'Make the knex instance with createDb() (its pool sets aes-256-cbc on every new ' +
  "connection), or run SET SESSION block_encryption_mode = 'aes-256-cbc' in the pool's " +
  'afterCreate; never change the mode on a pooled connection.'

interface DriverConnection {
  query(sql: string, callback: (err: Error | null, rows?: unknown) => void): unknown
}

function modeOf(conn: DriverConnection): Promise<string> {
  return new Promise((resolve, reject) => {
    conn.query('SELECT @@session.block_encryption_mode AS mode', (err, rows) =>
      err ? reject(err) : resolve(String((rows as { mode?: unknown }[])[0]?.mode)),
    )
  })
}

/**
 * The mode of the pool's idle connections (at least one), read as they are: the
 * doctor sets nothing on them. A plain `knex({ client: 'mysql2' })` pool runs in
 * the server's default, aes-128-ecb on MySQL 9.7 and MariaDB 11.8 (measured);
 * reading through a connection the doctor had just set would hide that.
 */
async function pooledModes(db: Knex): Promise<string[]> {
  const pool = (db.client as { pool?: { numFree?: () => number } }).pool
  const count = Math.max(1, pool?.numFree?.() ?? 0)
  const held: DriverConnection[] = []
  try {
    for (let i = 0; i < count; i++) {
      held.push((await db.client.acquireConnection()) as DriverConnection)
    }
    return await Promise.all(held.map(modeOf))
  } finally {
    for (const conn of held) await db.client.releaseConnection(conn)
  }
}

/** Seals a throwaway value through the library's statement path; true if it opens in Node. */
async function sealsAsCbc(trx: Knex.Transaction): Promise<boolean> {
  const raw = { enc: randomBytes(32), mac: randomBytes(32) }
  const aad = envelopeAad('doctor', 'probe', randomBytes(16))
  const plaintext = randomBytes(8)
  const { sql, bindings } = sealSql(plaintext, sqlFieldKeys(raw, 1), aad)
  const [row] = await selectRows<{ e: Buffer }>(
    trx,
    trx.raw(`SELECT ${sql} AS e`, [...bindings] as Knex.RawBinding[]),
    'doctor mode probe',
  )
  if (row === undefined) return false
  try {
    return openEnvelope(row.e, raw, aad).equals(plaintext)
  } catch {
    return false
  }
}

type GuardProbe = 'in force' | 'no cbc' | 'not refused'

/**
 * The check the envelope statements carry (sql/mode-guard.ts), tried on one
 * connection of the pool: a seal under aes-256-cbc gives what Node opens, and
 * the same seal under aes-128-ecb is refused. The connection's mode is put back
 * as it was found.
 */
async function guardProbe(db: Knex): Promise<GuardProbe> {
  return db.transaction(async (trx) => {
    const [rows] = (await trx.raw('SELECT @@session.block_encryption_mode AS mode')) as [
      { mode: string }[],
    ]
    const found = rows[0]?.mode ?? CBC
    try {
      await trx.raw(`SET SESSION block_encryption_mode = '${CBC}'`)
      if (!(await sealsAsCbc(trx))) return 'no cbc'
      await trx.raw("SET SESSION block_encryption_mode = 'aes-128-ecb'")
      const refused = await sealsAsCbc(trx).then(
        () => false,
        (err: unknown) => {
          if (isModeRefusalError(err)) return true
          throw err
        },
      )
      return refused ? 'in force' : 'not refused'
    } finally {
      await trx.raw('SET SESSION block_encryption_mode = ?', [found])
    }
  })
}

/**
 * block_encryption_mode on the pool it is given. FAIL when an idle connection of
 * the pool is not in aes-256-cbc (every seal and open on it is refused), when a
 * seal under aes-256-cbc does not give what Node opens (the server's AES is not
 * AES-256-CBC), or when the statements' own check does not refuse a seal under
 * aes-128-ecb.
 */
export async function blockEncryptionModeCheck(db: Knex): Promise<PostureCheck> {
  const check = BLOCK_ENCRYPTION_MODE
  const modes = await pooledModes(db)
  const wrong = [...new Set(modes.filter((m) => m !== CBC))]
  if (wrong.length > 0) {
    return check.fail(
      `${modes.filter((m) => m !== CBC).length} of ${modes.length} idle pooled connections ` +
        `run in ${wrong.join(', ')}, not ${CBC}: this pool does not set the mode, and every ` +
        'seal and open on those connections is refused.',
      FIX,
    )
  }
  const probe = await guardProbe(db)
  if (probe === 'no cbc') {
    return check.fail(
      `A seal under ${CBC} did not give what Node opens as AES-256-CBC.`,
      'Use a server whose AES_ENCRYPT supports aes-256-cbc (MySQL >= 8.0, MariaDB >= 11.2).',
    )
  }
  if (probe === 'not refused') {
    return check.fail(
      'A seal under aes-128-ecb was not refused: the statements do not check the mode on this server.',
      'Report this server version to the emr-vault maintainers; do not seal on it.',
    )
  }
  return check.pass(
    `${modes.length} idle pooled connection${modes.length === 1 ? '' : 's'} in ${CBC}; ` +
      'a seal under aes-128-ecb is refused by the statement itself.',
  )
}
