import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDbConfigured } from '../../../src/db/db-config.js'
import { unknownMigrations } from '../../../src/db/migration-problems.js'
import { ConfigurationError } from '../../../src/errors/index.js'
import { ensureStateRoot } from '../../../src/testing/local-db/paths.js'
import { rootEnv } from '../../../src/testing/local-db/private-root.js'
import {
  isDevelopmentEnvironment,
  startLocalServer,
} from '../../../src/testing/local-db/server.js'
import { expect } from '../../support/chai.js'

/**
 * What keeps the passwordless local server and its development keys to
 * development: no start outside it, no configured server mistaken for "none",
 * no caller secrets in the server's environment, a state folder git ignores.
 */
describe('local server guards (src/testing/local-db)', () => {
  it('runs only with NODE_ENV unset, development or test', async () => {
    for (const mode of [undefined, '', 'development', 'test']) {
      expect(
        isDevelopmentEnvironment(mode === undefined ? {} : { NODE_ENV: mode }),
      ).to.equal(true)
    }
    for (const mode of ['production', 'prod', 'staging', 'Production']) {
      expect(isDevelopmentEnvironment({ NODE_ENV: mode }), mode).to.equal(false)
    }
    const saved = process.env['NODE_ENV']
    process.env['NODE_ENV'] = 'production'
    try {
      const dir = mkdtempSync(join(tmpdir(), 'emr-vault-guard-'))
      try {
        await expect(
          startLocalServer({ engine: 'mysql', stateDir: dir }),
        ).to.be.rejectedWith(ConfigurationError, /tests and development only/)
        // Refused before anything was written.
        expect(() => statSync(join(dir, 'mysql'))).to.throw()
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    } finally {
      if (saved === undefined) delete process.env['NODE_ENV']
      else process.env['NODE_ENV'] = saved
    }
  })

  it('counts any EMR_VAULT_DB_* variable as a configured server', () => {
    expect(isDbConfigured({})).to.equal(false)
    expect(isDbConfigured({ EMR_VAULT_DB_PASSWORD: '' })).to.equal(false)
    expect(isDbConfigured({ EMR_VAULT_DB_HOST: 'db.internal' })).to.equal(true)
    expect(isDbConfigured({ EMR_VAULT_DB_PORT: '3307' })).to.equal(true)
    expect(isDbConfigured({ EMR_VAULT_DB_NAME: 'emr' })).to.equal(true)
  })

  it("passes the server only locale, paths and terminal, none of the caller's secrets", () => {
    const env = rootEnv({
      PATH: '/usr/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TZ: 'UTC',
      EMR_VAULT_AUDIT_KEY: 'c2VjcmV0',
      EMR_VAULT_DB_PASSWORD: 'hunter2',
      MYSQL_PWD: 'pw',
      LD_PRELOAD: '/tmp/x.so',
      AWS_SECRET_ACCESS_KEY: 'k',
    })
    expect(env).to.deep.equal({
      PATH: '/usr/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TZ: 'UTC',
    })
  })

  it('makes the state folder private to its owner and ignored by git', () => {
    const dir = mkdtempSync(join(tmpdir(), 'emr-vault-state-'))
    try {
      const root = join(dir, '.emr-vault')
      ensureStateRoot(root)
      ensureStateRoot(root) // again: idempotent
      expect(statSync(root).mode & 0o777).to.equal(0o700)
      expect(readFileSync(join(root, '.gitignore'), 'utf8')).to.match(/^\*$/m)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('migration errors print only migration-shaped names', () => {
  it('replaces a name read from the database that could carry terminal escapes', () => {
    const e = unknownMigrations([
      '20261231_0009_future_table',
      '\u001b[2J\u001b[32mALL OK\u001b[0m\nforged line',
    ])
    expect(e.message).to.contain('20261231_0009_future_table')
    expect(e.message).to.contain('(malformed name)')
    expect(e.message).not.to.contain('\u001b').and.not.to.contain('\n')
    expect(e.message).not.to.contain('ALL OK')
  })
})
