import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ValidationError } from '../../src/errors/index.js'
import * as testing from '../../src/testing/index.js'
import { expect } from '../support/chai.js'

/**
 * The `emr-vault/testing` entry point without a server: its names, and the
 * checks a caller in plain JavaScript reaches before anything is started or
 * written. Starting a real server is what every database test's fixture does.
 */
describe('emr-vault/testing (src/testing/index.ts)', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'emr-vault-testing-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('exports exactly these runtime names', () => {
    expect(Object.keys(testing).sort()).to.deep.equal([
      'ENGINES',
      'TEST_KDF_POLICY',
      'localMysqlStatus',
      'startLocalMysql',
      'stopLocalMysql',
    ])
    expect(testing.ENGINES).to.deep.equal(['mysql', 'mariadb'])
  })

  it('refuses an unknown engine, a bad database name or log, before starting anything', async () => {
    const stateDir = join(dir, 'state')
    const bad = [
      { engine: 'postgres', stateDir },
      { engine: 'mysql', stateDir: '' },
      { stateDir, database: 'app`; DROP DATABASE mysql; --' },
      { stateDir, database: '' },
      { stateDir, log: 'console' },
    ]
    for (const options of bad) {
      const error: unknown = await testing
        .startLocalMysql(options as testing.LocalMysqlOptions)
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(error, JSON.stringify(options)).to.be.instanceOf(ValidationError)
      expect((error as ValidationError).code).to.equal('VALIDATION')
    }
    expect(existsSync(stateDir)).to.equal(false)
    await expect(
      testing.localMysqlStatus({ engine: 'oracle' as testing.Engine }),
    ).to.be.rejectedWith(ValidationError, '"engine" must be one of: mysql, mariadb')
  })

  it('reports no server for a state folder that has none, and stopping it is a no-op', async () => {
    expect(await testing.localMysqlStatus({ stateDir: dir })).to.equal(null)
    expect(await testing.localMysqlStatus({ engine: 'mariadb', stateDir: dir })).to.equal(
      null,
    )
    expect(await testing.stopLocalMysql({ stateDir: dir })).to.equal(false)
  })
})
