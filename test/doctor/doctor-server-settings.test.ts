import { expect } from 'chai'
import { runDoctor, worstStatus } from '../../src/services/doctor.service.js'
import { testDb } from '../support/test-env.js'
import { check, engineUnderTest, withGlobals } from './doctor-support.js'

/**
 * Each case changes a GLOBAL setting of the test server for a moment and puts
 * the value read before back in `finally` (withGlobals). Serial by design.
 */
describe('doctor: server settings changed at runtime', () => {
  const doctor = (production = false) => runDoctor(testDb(), { production })

  it('FAILs general_log = ON, and the worst status is FAIL', async () => {
    const checks = await withGlobals({ general_log: 'ON' }, () => doctor())
    const line = check(checks, 'general_log')
    expect(line.status).to.equal('FAIL')
    expect(line.detail).to.match(/general_log is ON \(log_output = \w+\)/)
    expect(line.fix).to.match(/SET GLOBAL general_log = OFF/)
    expect(worstStatus(checks)).to.equal('FAIL')
    // Back to the server's own value: PASS again.
    expect(check(await doctor(), 'general_log').status).to.equal('PASS')
  })

  it('FAILs innodb_print_all_deadlocks = ON (deadlocked statements are logged with their values)', async () => {
    const checks = await withGlobals({ innodb_print_all_deadlocks: 'ON' }, () => doctor())
    const line = check(checks, 'innodb_print_all_deadlocks')
    expect(line.status).to.equal('FAIL')
    expect(line.fix).to.match(/SET GLOBAL innodb_print_all_deadlocks = OFF/)
    expect(check(await doctor(), 'innodb_print_all_deadlocks').status).to.equal('PASS')
  })

  it('WARNs general_log = ON with log_output = NONE (nothing written, one switch away)', async () => {
    const checks = await withGlobals({ log_output: 'NONE', general_log: 'ON' }, () =>
      doctor(),
    )
    expect(check(checks, 'general_log').status).to.equal('WARN')
    expect(check(checks, 'general_log').detail).to.match(/log_output = NONE/)
  })

  it('WARNs a slow log at the default 10 s threshold, FAILs it in production mode', async () => {
    const [dev, prod] = await withGlobals(
      { slow_query_log: 'ON', long_query_time: 10 },
      async () => [await doctor(false), await doctor(true)],
    )
    expect(check(dev!, 'slow_query_log').status).to.equal('WARN')
    expect(check(dev!, 'slow_query_log').detail).to.match(/long_query_time = 10 s/)
    expect(check(prod!, 'slow_query_log').status).to.equal('FAIL')
    expect(check(prod!, 'slow_query_log').detail).to.match(/Production mode/)
  })

  it('FAILs a slow log whose threshold is under a second, in any mode', async () => {
    const checks = await withGlobals({ slow_query_log: 'ON', long_query_time: 0.5 }, () =>
      doctor(false),
    )
    expect(check(checks, 'slow_query_log').status).to.equal('FAIL')
    expect(check(checks, 'slow_query_log').detail).to.match(
      /long_query_time = 0\.5 s.*ordinary statements are written/,
    )
  })

  it('FAILs statement text in the binary log: MySQL rows-query events ON; MariaDB annotate events off then on', async () => {
    const engine = await engineUnderTest()
    if (engine === 'mysql') {
      // log_bin is ON by default on MySQL 9.7.
      const checks = await withGlobals({ binlog_rows_query_log_events: 'ON' }, () =>
        doctor(),
      )
      const line = check(checks, 'binlog_query_events')
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.match(/binlog_rows_query_log_events is ON .*log_bin ON/)
      expect(worstStatus(checks)).to.equal('FAIL')
    } else {
      // The local MariaDB runs without --log-bin (log_bin cannot change at
      // runtime): its default annotate ON is a WARN, and turning it off is a PASS.
      const before = check(await doctor(), 'binlog_query_events')
      expect(before.status).to.equal('WARN')
      expect(before.detail).to.match(
        /binlog_annotate_row_events is ON \(MariaDB's default\)/,
      )
      const checks = await withGlobals({ binlog_annotate_row_events: 'OFF' }, () =>
        doctor(),
      )
      expect(check(checks, 'binlog_query_events').status).to.equal('PASS')
    }
    expect(check(await doctor(), 'binlog_query_events').status).to.equal(
      engine === 'mysql' ? 'PASS' : 'WARN',
    )
  })
})
