import { expect } from 'chai'
import { worstStatus, type PostureCheck } from '../../../src/services/doctor.service.js'
import {
  binlogFormatCheck,
  binlogQueryEventsCheck,
} from '../../../src/services/doctor-logs.js'
import { parseAccount } from '../../../src/services/doctor-grants.js'
import type { ServerFacts } from '../../../src/services/doctor-server-facts.js'
import { evaluateTransport, isLoopback } from '../../../src/services/doctor-transport.js'

/**
 * Rules the shared test server cannot be put into safely or at all: a binary
 * log format change (other clients' writes would be logged differently) and a
 * remote host (the test server listens on loopback only). The real-server
 * tests cover the same functions where the server can show them.
 */
function facts(
  flavour: 'mysql' | 'mariadb',
  variables: Record<string, string>,
): ServerFacts {
  return { version: '0.0.0', flavour, variables: new Map(Object.entries(variables)) }
}

describe('doctor rules (no server)', () => {
  it('binlog_format: FAIL for STATEMENT or MIXED with log_bin ON, WARN with it OFF, PASS for ROW', () => {
    const status = (log_bin: string, binlog_format: string) =>
      binlogFormatCheck(facts('mysql', { log_bin, binlog_format })).status
    expect(status('ON', 'STATEMENT')).to.equal('FAIL')
    expect(status('ON', 'MIXED')).to.equal('FAIL')
    expect(status('OFF', 'MIXED')).to.equal('WARN')
    expect(status('ON', 'ROW')).to.equal('PASS')
    expect(binlogFormatCheck(facts('mysql', { log_bin: 'ON' })).status).to.equal('PASS')
  })

  it('binlog_query_events: MariaDB annotate ON with log_bin ON is a FAIL', () => {
    const line = binlogQueryEventsCheck(
      facts('mariadb', { log_bin: 'ON', binlog_annotate_row_events: 'ON' }),
    )
    expect(line.status).to.equal('FAIL')
    expect(line.fix).to.equal(
      'SET GLOBAL binlog_annotate_row_events = OFF, and set binlog_annotate_row_events = OFF in the server configuration.',
    )
  })

  it('tls: loopback is not applicable; a remote host needs verified TLS and a cipher', () => {
    for (const host of [
      '127.0.0.1',
      '127.3.2.1',
      'localhost',
      '::1',
      '[::1]',
      undefined,
    ]) {
      expect(isLoopback({ host }), String(host)).to.equal(true)
    }
    expect(isLoopback({ host: 'db.internal', socketPath: '/run/mysqld.sock' })).to.equal(
      true,
    )
    for (const host of ['10.0.0.5', 'db.example.org', '::2', '128.0.0.1']) {
      expect(isLoopback({ host }), host).to.equal(false)
    }
    const remote = { host: 'db.example.org' }
    expect(evaluateTransport(remote, '').status).to.equal('FAIL')
    expect(
      evaluateTransport(
        { ...remote, ssl: { rejectUnauthorized: false } },
        'TLS_AES_256_GCM_SHA384',
      ).detail,
    ).to.match(/rejectUnauthorized: false/)
    expect(evaluateTransport({ ...remote, ssl: { ca: 'pem' } }, '').detail).to.match(
      /no Ssl_cipher/,
    )
    const ok = evaluateTransport(
      { ...remote, ssl: { ca: 'pem' } },
      'TLS_AES_256_GCM_SHA384',
    )
    expect(ok.status).to.equal('PASS')
    expect(ok.detail).to.equal(
      'host db.example.org: TLS (TLS_AES_256_GCM_SHA384) with certificate verification.',
    )
  })

  it('worstStatus orders PASS < WARN < FAIL', () => {
    const of = (...statuses: PostureCheck['status'][]) =>
      worstStatus(
        statuses.map((status) => ({ id: 'x', status, title: 't', detail: 'd' })),
      )
    expect(of()).to.equal('PASS')
    expect(of('PASS', 'WARN', 'PASS')).to.equal('WARN')
    expect(of('WARN', 'FAIL', 'PASS')).to.equal('FAIL')
  })

  it('reads accounts as CURRENT_USER() and configurations write them', () => {
    expect(parseAccount('app@10.0.%')).to.deep.equal({ user: 'app', host: '10.0.%' })
    expect(parseAccount("'app'@'%'")).to.deep.equal({ user: 'app', host: '%' })
    expect(parseAccount('`app`@`localhost`')).to.deep.equal({
      user: 'app',
      host: 'localhost',
    })
    expect(parseAccount('app')).to.deep.equal({ user: 'app', host: '%' })
  })
})
