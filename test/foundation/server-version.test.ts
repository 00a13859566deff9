import diagnosticsChannel from 'node:diagnostics_channel'
import { expect } from '../support/chai.js'
import { selectRows } from '../../src/sql/prepared.js'
import { testDb } from '../support/test-env.js'
import {
  assertSupportedServer,
  isLoopbackHost,
  knexConfig,
  parseServerVersion,
} from '../../src/db/index.js'
import { ConfigurationError } from '../../src/errors/index.js'

describe('server version check', () => {
  it('accepts servers whose AES_ENCRYPT takes an IV', () => {
    expect(assertSupportedServer('9.7.4')).to.include({
      flavour: 'mysql',
      major: 9,
      minor: 7,
    })
    expect(assertSupportedServer('8.4.3')).to.include({ flavour: 'mysql', major: 8 })
    expect(assertSupportedServer('8.0.40-log').flavour).to.equal('mysql')
    expect(assertSupportedServer('11.8.9-MariaDB-deb13')).to.include({
      flavour: 'mariadb',
      major: 11,
      minor: 8,
    })
    expect(assertSupportedServer('11.2.0-MariaDB').flavour).to.equal('mariadb')
  })

  it('refuses MariaDB 10.x and 11.0/11.1, and MySQL 5.x, naming the reason', () => {
    for (const v of [
      '10.11.6-MariaDB-0+deb12u1',
      '11.1.2-MariaDB',
      '5.7.44',
      '5.5.5-10.6.12-MariaDB',
    ]) {
      expect(() => assertSupportedServer(v), v)
        .to.throw(ConfigurationError)
        .with.property('message')
        .that.matches(/cannot take an IV/)
    }
  })

  it('refuses a version it cannot parse', () => {
    expect(() => parseServerVersion('banana')).to.throw(
      ConfigurationError,
      /cannot parse/,
    )
  })
})

describe('transport and diagnostics guards', () => {
  const base = { port: 3306, user: 'app', password: '', database: 'emr' }

  it('refuses a non-loopback server without a CA unless insecure transport is stated', () => {
    expect(() => knexConfig({ ...base, host: 'db.internal' }))
      .to.throw(ConfigurationError)
      .with.property('message')
      .that.matches(/EMR_VAULT_DB_SSL_CA/)
    expect(() =>
      knexConfig({ ...base, host: '10.0.0.5', allowInsecureTransport: true }),
    ).not.to.throw()
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) {
      expect(isLoopbackHost(host), host).to.equal(true)
      expect(() => knexConfig({ ...base, host })).not.to.throw()
    }
    expect(isLoopbackHost('128.0.0.1')).to.equal(false)
  })

  it('refuses to run a statement while mysql2 statement channels have a subscriber', async () => {
    const listener = () => {}
    diagnosticsChannel.subscribe('mysql2:execute', listener)
    try {
      await expect(
        selectRows(testDb(), testDb().raw('SELECT 1 AS one')),
      ).to.be.rejectedWith(ConfigurationError, /mysql2:execute has a subscriber/)
    } finally {
      diagnosticsChannel.unsubscribe('mysql2:execute', listener)
    }
    // Unsubscribed, it runs again (SELECT 1 is a BIGINT: a string with bigNumberStrings).
    const [row] = await selectRows<{ one: unknown }>(
      testDb(),
      testDb().raw('SELECT 1 AS one'),
    )
    expect(Number(row?.one)).to.equal(1)
  })
})
