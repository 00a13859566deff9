import type mysql from 'mysql2/promise'

/**
 * Statement text the server keeps in performance_schema, as another connection
 * (a DBA, a monitoring agent) can read it: the per-thread history, the statements
 * running now, and, where the server has it (MySQL 8+), the sample text kept per
 * digest. Returned as bytes so binary key bytes are found too.
 */
export async function statementText(observer: mysql.Connection): Promise<Buffer> {
  const [rows] = await observer.query(
    'SELECT SQL_TEXT AS t FROM performance_schema.events_statements_history ' +
      'UNION ALL SELECT SQL_TEXT FROM performance_schema.events_statements_current',
  )
  const texts = (rows as { t: Buffer | string | null }[]).map((r) => r.t)
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
