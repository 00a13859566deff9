import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import { ConfigurationError } from '../../src/errors/index.js'
import { AUDIT_TABLES } from '../../src/repositories/audit-log.row.js'
import {
  appendAudit,
  auditReport,
  verifyAuditChain,
} from '../../src/services/audit.service.js'
import { newRowId, rowIdToString } from '../../src/db/row-id.js'
import { createVault } from '../../src/services/vault.js'
import { expect } from '../support/chai.js'
import { useOwnDatabase } from '../support/own-database.js'
import { TEST_AUDIT_KEY, testVault } from '../support/vault-fixture.js'

describe('audit log schema and configuration', () => {
  // A database of its own, freshly migrated: the deployment's chain there holds
  // exactly what this suite appends, whatever other suites did to theirs.
  const own = useOwnDatabase()
  let db: Knex

  before(() => {
    db = own.db()
  })

  it('the migration made audit_log: InnoDB, seq BIGINT UNSIGNED primary key without AUTO_INCREMENT', async () => {
    const [[table]] = await db.raw(
      'SELECT ENGINE AS engine, TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      ['audit_log'],
    )
    expect(table).to.deep.equal({ engine: 'InnoDB', collation: 'utf8mb4_bin' })
    const [columns] = await db.raw(
      'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, EXTRA AS extra ' +
        'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      ['audit_log'],
    )
    // MariaDB still reports integer display widths (`bigint(20) unsigned`); MySQL 8.0.19+ does not.
    for (const c of columns as { type: string }[])
      c.type = c.type.replace(/^(\w*int)\(\d+\)/, '$1')
    expect(columns).to.deep.equal([
      { name: 'seq', type: 'bigint unsigned', nullable: 'NO', extra: '' },
      { name: 'occurred_at', type: 'datetime(3)', nullable: 'NO', extra: '' },
      { name: 'actor_user_id', type: 'binary(16)', nullable: 'YES', extra: '' },
      { name: 'action', type: 'varchar(40)', nullable: 'NO', extra: '' },
      { name: 'patient_id', type: 'binary(16)', nullable: 'YES', extra: '' },
      { name: 'target_user_id', type: 'binary(16)', nullable: 'YES', extra: '' },
      {
        name: 'outcome',
        type: "enum('success','denied','failure')",
        nullable: 'NO',
        extra: '',
      },
      { name: 'reason', type: 'varchar(500)', nullable: 'YES', extra: '' },
      { name: 'detail', type: 'varchar(200)', nullable: 'YES', extra: '' },
      { name: 'mac', type: 'binary(32)', nullable: 'NO', extra: '' },
    ])
  })

  it('has the report indexes and no foreign keys to or from the audit tables', async () => {
    const [indexes] = await db.raw(
      'SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols ' +
        'FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ' +
        'GROUP BY INDEX_NAME ORDER BY INDEX_NAME',
      ['audit_log'],
    )
    expect(indexes).to.deep.equal([
      { name: 'audit_log_by_action', cols: 'action,seq' },
      { name: 'audit_log_by_actor', cols: 'actor_user_id,seq' },
      {
        name: 'audit_log_by_actor_action_time',
        cols: 'actor_user_id,action,occurred_at',
      },
      { name: 'audit_log_by_patient', cols: 'patient_id,seq' },
      { name: 'audit_log_by_time', cols: 'occurred_at,seq' },
      { name: 'PRIMARY', cols: 'seq' },
    ])
    const [fks] = await db.raw(
      'SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS ' +
        'WHERE CONSTRAINT_SCHEMA = DATABASE() AND (TABLE_NAME IN (?, ?) OR REFERENCED_TABLE_NAME IN (?, ?))',
      ['audit_log', 'audit_chain_head', 'audit_log', 'audit_chain_head'],
    )
    expect(fks).to.deep.equal([])
  })

  it('the head table holds exactly one row, id 1, and refuses a second', async () => {
    const heads = await db('audit_chain_head').select('id')
    expect(heads).to.deep.equal([{ id: 1 }])
    await expect(
      db('audit_chain_head').insert({
        id: 2,
        last_seq: 0,
        last_mac: Buffer.alloc(32),
        head_mac: Buffer.alloc(32),
      }),
    ).to.be.rejected
  })

  it("the deployment's tables: an append with the run's key lands at its seq and the chain verifies", async () => {
    const actor = newRowId()
    const seq = await db.transaction((trx) =>
      appendAudit(trx, TEST_AUDIT_KEY, {
        actorUserId: actor,
        action: 'audit.verify',
        outcome: 'success',
        detail: 'schema test',
      }),
    )
    expect(seq).to.equal('1')
    const [entry] = await auditReport(db, { actorUserId: rowIdToString(actor) })
    expect(entry).to.deep.include({
      seq,
      actorUserId: rowIdToString(actor),
      action: 'audit.verify',
      detail: 'schema test',
    })
    const result = await verifyAuditChain(db, TEST_AUDIT_KEY)
    expect(result).to.deep.include({ ok: true, rows: 1, lastSeq: '1' })
    expect(AUDIT_TABLES).to.deep.equal({ log: 'audit_log', head: 'audit_chain_head' })
  })

  it('createVault requires a 32-byte audit key (ConfigurationError otherwise)', () => {
    const recoveryPublicKey = generateUserKeyPair().publicKey
    for (const auditKey of [randomBytes(16), randomBytes(33), Buffer.alloc(0)]) {
      expect(() =>
        createVault({ db, recoveryPublicKey, auditKey, searchKey: randomBytes(32) }),
      ).to.throw(
        ConfigurationError,
        `"auditKey" must be 32 bytes, got ${auditKey.length}`,
      )
    }
    expect(() => testVault({ db, auditKey: randomBytes(16) })).to.throw(
      ConfigurationError,
    )
    expect(() =>
      createVault({
        db,
        recoveryPublicKey,
        auditKey: undefined as unknown as Buffer,
        searchKey: randomBytes(32),
      }),
    ).to.throw(ConfigurationError, '"auditKey" must be a Buffer')
    expect(() =>
      createVault({
        db,
        recoveryPublicKey,
        auditKey: randomBytes(32),
        searchKey: randomBytes(32),
      }),
    ).to.not.throw()
  })
})
