import type mysql from 'mysql2/promise'

/**
 * Statement text the server keeps in performance_schema, as another connection
 * (a DBA, a monitoring agent) can read it: the per-thread history, the statements
 * running now, and, where the server has it (MySQL 8+), the sample text kept per
 * digest. Returned as bytes so binary key bytes are found too.
 */
export async function statementText(observer: mysql.Connection): Promise<Buffer> {
  const [rows] = await observer.query(
    'SELECT EVENT_NAME AS e, SQL_TEXT AS t FROM performance_schema.events_statements_history ' +
      'UNION ALL SELECT EVENT_NAME, SQL_TEXT FROM performance_schema.events_statements_current',
  )
  const texts = (rows as { e: string; t: Buffer | string | null }[]).flatMap((r) => [
    r.e,
    r.t,
  ])
  try {
    const [samples] = await observer.query(
      'SELECT QUERY_SAMPLE_TEXT AS t FROM performance_schema.events_statements_summary_by_digest',
    )
    texts.push(...(samples as { t: Buffer | string | null }[]).map((r) => r.t))
  } catch {
    // MariaDB has no QUERY_SAMPLE_TEXT column.
  }
  return Buffer.concat(
    texts.map((t) =>
      Buffer.concat([
        Buffer.isBuffer(t) ? t : Buffer.from(t ?? '', 'latin1'),
        Buffer.of(10),
      ]),
    ),
  )
}

/**
 * Whether statement history shows the text of prepared statements. MySQL 9.7
 * keeps it with `?` placeholders; MariaDB 11.8 records the execution event
 * (`statement/com/Execute`) with SQL_TEXT NULL.
 */
export async function showsPreparedText(observer: mysql.Connection): Promise<boolean> {
  const [rows] = await observer.query('SELECT VERSION() AS v')
  return !/mariadb/i.test((rows as { v: string }[])[0]!.v)
}

/**
 * The evidence that a prepared statement ran and was recorded: its marker text
 * where the server keeps prepared text, else its execution event.
 */
export async function preparedEvidence(
  observer: mysql.Connection,
  marker: string,
): Promise<string> {
  return (await showsPreparedText(observer)) ? marker : 'statement/com/Execute'
}
