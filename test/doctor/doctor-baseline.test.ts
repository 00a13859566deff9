import { createHash } from 'node:crypto'
import { expect } from 'chai'
import { generateUserKeyPair } from '../../src/crypto/keypair.js'
import {
  runDoctor,
  worstStatus,
  type PostureCheck,
} from '../../src/services/doctor.service.js'
import { testDb } from '../support/test-env.js'
import { check, engineUnderTest } from './doctor-support.js'

const IDS = [
  'server_version',
  'block_encryption_mode',
  'general_log',
  'innodb_print_all_deadlocks',
  'slow_query_log',
  'binlog_format',
  'binlog_query_events',
  'audit_plugins',
  'watching_accounts',
  'app_account_privileges',
  'tls',
  'primary_key_required',
  'schema_version',
  'declared_tables',
  'user_key_certificates',
  'emergency_key',
  'recovery_key',
  'diagnostics_channels',
]

/**
 * The test server in its local default setup (scripts/local-db, or the one in
 * EMR_VAULT_DB_*), with root as the application's account. What a safe setup
 * reports is asserted; the WARNs this dev setup is expected to show are
 * asserted too, with the reason:
 * - app_account_privileges: root is the application's account (PROCESS, SUPER…).
 * - primary_key_required: sql_require_primary_key / innodb_force_primary_key are
 *   OFF by default on both engines.
 * - MariaDB only: binlog_format (MIXED, its default) and binlog_query_events
 *   (binlog_annotate_row_events ON, its default) WARN because log_bin is OFF there
 *   (server-args.ts passes no --log-bin); watching_accounts WARNs because MariaDB
 *   creates root@'::1', root@'127.0.0.1' and root@<hostname> beside root@localhost.
 */
describe('doctor on the local test server', () => {
  let checks: PostureCheck[]
  let engine: 'mysql' | 'mariadb'
  const recovery = generateUserKeyPair()

  before(async () => {
    engine = await engineUnderTest()
    checks = await runDoctor(testDb(), {
      recoveryPublicKey: recovery.publicKey,
      production: false,
    })
  })

  it('reports every check once, each with a status, a title and a detail', () => {
    expect(checks.map((c) => c.id)).to.deep.equal(IDS)
    for (const c of checks) {
      expect(['PASS', 'WARN', 'FAIL'], c.id).to.include(c.status)
      expect(c.title, c.id).to.be.a('string').with.length.above(0)
      expect(c.detail, c.id).to.be.a('string').with.length.above(0)
      if (c.status !== 'PASS') expect(c.fix, c.id).to.be.a('string').with.length.above(0)
    }
  })

  it('passes the checks a safe local setup passes', () => {
    for (const id of [
      'server_version',
      'block_encryption_mode',
      'general_log',
      'innodb_print_all_deadlocks',
      'slow_query_log',
      'audit_plugins',
      'tls',
      'schema_version',
      'declared_tables',
      'recovery_key',
      'diagnostics_channels',
    ]) {
      expect(check(checks, id).status, `${id}: ${check(checks, id).detail}`).to.equal(
        'PASS',
      )
    }
    expect(check(checks, 'server_version').detail).to.match(
      engine === 'mariadb' ? /^MariaDB 11\.\d+\.\d+/ : /^MySQL \d+\.\d+\.\d+/,
    )
    expect(check(checks, 'tls').detail).to.match(/loopback/)
    expect(check(checks, 'schema_version').detail).to.match(/none pending/)
  })

  it('binary log: PASS on MySQL (log_bin ON, ROW, rows-query events OFF), WARN on MariaDB (log_bin OFF, its defaults)', () => {
    if (engine !== 'mysql') {
      // MariaDB: log_bin OFF with its defaults MIXED and annotate ON: at most WARN.
      expect(check(checks, 'binlog_format').status).to.equal('WARN')
      expect(check(checks, 'binlog_format').detail).to.match(/log_bin is OFF.*MIXED/)
      expect(check(checks, 'binlog_query_events').status).to.equal('WARN')
      expect(check(checks, 'binlog_query_events').detail).to.match(
        /binlog_annotate_row_events is ON.*log_bin is OFF/,
      )
      return
    }
    expect(check(checks, 'binlog_format').status).to.equal('PASS')
    expect(check(checks, 'binlog_format').detail).to.match(
      /log_bin is ON, binlog_format = ROW/,
    )
    expect(check(checks, 'binlog_query_events').status).to.equal('PASS')
    expect(check(checks, 'binlog_query_events').detail).to.match(
      /binlog_rows_query_log_events is OFF/,
    )
  })

  it('warns, as expected on a dev server, that root is the application account', () => {
    const app = check(checks, 'app_account_privileges')
    expect(app.status).to.equal('WARN')
    expect(app.detail).to.match(/^'root'@'localhost' holds .*PROCESS.*SUPER/)
    expect(check(checks, 'primary_key_required').status).to.equal('WARN')
    const watching = check(checks, 'watching_accounts')
    if (engine === 'mariadb') {
      expect(watching.status).to.equal('WARN')
      expect(watching.detail).to.include("'root'@'::1'").and.include("'root'@'127.0.0.1'")
    } else {
      // Only root@localhost (the application here) and the locked mysql.session.
      expect(watching.status, watching.detail).to.equal('PASS')
    }
    expect(worstStatus(checks)).to.equal('WARN')
  })

  it('names the recovery key by a SHA-256 fingerprint prefix, not its bytes', async () => {
    const line = check(checks, 'recovery_key')
    const fingerprint = createHash('sha256').update(recovery.publicKey).digest('hex')
    expect(line.detail).to.include(fingerprint.slice(0, 16))
    expect(line.detail).not.to.include(fingerprint.slice(16, 32))
    expect(JSON.stringify(checks)).not.to.include(recovery.publicKey.toString('hex'))
    const without = await runDoctor(testDb(), { production: false })
    expect(check(without, 'recovery_key').status).to.equal('WARN')
  })
})
