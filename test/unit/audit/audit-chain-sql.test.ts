// The audit chain's three statements (src/sql/audit-chain-sql.ts), compiled
// without a database and checked against what knex compiled for the same
// statement before they were written out: the same clauses, placeholders and
// bindings, so the chain's statements mean what they meant.
import { expect } from 'chai'
import knex from 'knex'
import { ValidationError } from '../../../src/errors/index.js'
import {
  advanceAuditHeadSql,
  AUDIT_ROW_COLUMNS,
  insertAuditRowsSql,
  lockAuditHeadSql,
} from '../../../src/sql/audit-chain-sql.js'

const builder = knex({ client: 'mysql2' })
const native = (q: { toSQL(): { toNative(): { sql: string; bindings: unknown } } }) =>
  q.toSQL().toNative()

function row(seq: bigint) {
  return {
    seq,
    occurred_at: new Date('2026-12-03T19:30:00.123Z'),
    actor_user_id: Buffer.alloc(16, 1),
    action: 'chart.read',
    patient_id: Buffer.alloc(16, 2),
    target_user_id: null,
    outcome: 'success',
    reason: null,
    detail: `act ${seq}`,
    mac: Buffer.alloc(32, Number(seq)),
  }
}

describe('audit chain SQL builders (compiled, no database)', () => {
  after(() => builder.destroy())

  it('lockAuditHeadSql is the SELECT … FOR UPDATE knex built', () => {
    const mine = lockAuditHeadSql('audit_chain_head', 1)
    const theirs = native(
      builder('audit_chain_head')
        .select('last_seq', 'last_mac', 'head_mac', builder.raw('SYSDATE(3) AS `now`'))
        .where('id', 1)
        .forUpdate(),
    )
    expect(mine.sql.toLowerCase()).to.equal(theirs.sql.toLowerCase())
    expect(mine.bindings).to.deep.equal(theirs.bindings)
  })

  it('advanceAuditHeadSql is the UPDATE knex built, the seqs bound as bigints', () => {
    const to = { lastSeq: 8n, lastMac: Buffer.alloc(32, 3), headMac: Buffer.alloc(32, 4) }
    const mine = advanceAuditHeadSql('audit_chain_head', 1, 7n, to)
    const theirs = native(
      builder('audit_chain_head')
        .update({
          last_seq: to.lastSeq as unknown as number,
          last_mac: to.lastMac,
          head_mac: to.headMac,
        })
        .where({ id: 1, last_seq: 7n as unknown as number }),
    )
    expect(mine.sql.toLowerCase()).to.equal(theirs.sql.toLowerCase())
    expect(mine.bindings).to.deep.equal(theirs.bindings)
    expect(typeof mine.bindings[0]).to.equal('bigint')
  })

  it('insertAuditRowsSql binds every column of every row in placeholder order', () => {
    const rows = [row(5n), row(6n), row(7n)]
    const { sql, bindings } = insertAuditRowsSql('audit_log', rows)
    const columns = AUDIT_ROW_COLUMNS.map((c) => `\`${c}\``).join(', ')
    const group = `(${AUDIT_ROW_COLUMNS.map(() => '?').join(', ')})`
    expect(sql).to.equal(
      `INSERT INTO \`audit_log\` (${columns}) VALUES ${group}, ${group}, ${group}`,
    )
    expect(bindings).to.deep.equal(
      rows.flatMap((r) => AUDIT_ROW_COLUMNS.map((c) => r[c])),
    )
    // knex listed the columns sorted; the same column gets the same value either way.
    const theirs = native(builder('audit_log').insert(rows as never))
    const theirColumns = /\(([^)]*)\) values/.exec(theirs.sql)![1]!.split(', ')
    const theirBindings = theirs.bindings as unknown[]
    rows.forEach((r, i) =>
      theirColumns.forEach((quoted, j) => {
        const column = quoted.slice(1, -1) as (typeof AUDIT_ROW_COLUMNS)[number]
        expect(theirBindings[i * theirColumns.length + j]).to.deep.equal(r[column])
      }),
    )
    expect(theirColumns).to.have.members(AUDIT_ROW_COLUMNS.map((c) => `\`${c}\``))
  })

  it('refuses a table name that is not one, and an empty batch', () => {
    expect(() => lockAuditHeadSql('audit`; DROP TABLE x', 1)).to.throw(ValidationError)
    expect(() => insertAuditRowsSql('audit_log', [])).to.throw(ValidationError)
    const to = { lastSeq: 2n, lastMac: Buffer.alloc(32), headMac: Buffer.alloc(32) }
    expect(() => advanceAuditHeadSql('a b', 1, 1n, to)).to.throw(ValidationError)
    // Test chains use mixed-case names (checkTables allows them).
    expect(lockAuditHeadSql('Audit_Head_T1', 1).sql).to.include('`Audit_Head_T1`')
  })
})
