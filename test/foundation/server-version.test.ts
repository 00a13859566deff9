import { expect } from 'chai'
import { assertSupportedServer, parseServerVersion } from '../../src/db/index.js'
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
