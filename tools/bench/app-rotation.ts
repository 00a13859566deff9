import type { Knex } from 'knex'
import { inTransaction } from '../../src/services/transaction.js'
import { executeWrite, selectRows } from '../../src/sql/prepared.js'
import { appDecrypt, appEncrypt, newAppKey, type AppKey } from './app-gcm.js'
import { APP_RECORDS } from './fixtures.js'

const VALUE_COLUMNS = ['occurred_on_ct', 'title_ct', 'code_ct', 'body_ct'] as const

/**
 * Key rotation done in the application, the comparison point for emr-vault's
 * in-SQL rotation: in one transaction, lock the patient's rows, decrypt every
 * value with the old key and encrypt it with a new one in Node, and write the
 * rows back 250 per statement. Returns the new key and how many values moved.
 */
export async function appRotatePatient(
  db: Knex,
  patientId: Buffer,
  from: AppKey,
): Promise<{ key: AppKey; values: number }> {
  const to = newAppKey()
  const values = await inTransaction(db, async (trx) => {
    const rows = await selectRows<Record<string, unknown>>(
      trx,
      trx(APP_RECORDS)
        .select('id', 'patient_id', 'kind', 'author_id', ...VALUE_COLUMNS)
        .where('patient_id', patientId)
        .forUpdate(),
      'bench app rotation: lock',
    )
    let count = 0
    const next = rows.map((row) => {
      const out: Record<string, unknown> = { ...row }
      for (const column of VALUE_COLUMNS) {
        const value = row[column] as string | null
        if (value === null) continue
        out[column] = appEncrypt(appDecrypt(value, from), to)
        count++
      }
      return out
    })
    for (let at = 0; at < next.length; at += 250) {
      await executeWrite(
        trx,
        trx(APP_RECORDS)
          .insert(next.slice(at, at + 250))
          .onConflict('id')
          .merge([...VALUE_COLUMNS]),
        'bench app rotation: write',
      )
    }
    return count
  })
  return { key: to, values }
}
