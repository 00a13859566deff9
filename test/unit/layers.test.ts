import { existsSync } from 'node:fs'
import { expect } from 'chai'
import { ESLint } from 'eslint'

/** eslint.config.js enforces the project's import boundaries; this proves each rule bites. */
describe('lint boundaries (eslint.config.js)', () => {
  const eslint = new ESLint()
  /** How many times `ruleId` fires on `code` linted as the repository file `file`. */
  const count = async (ruleId: string, file: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath: file })
    return result!.messages.filter((m) => m.ruleId === ruleId).length
  }

  describe('layers import downward only', () => {
    const lint = (file: string, code: string) =>
      count('import-x/no-restricted-paths', file, code)

    it('refuses upward and sideways imports', async () => {
      expect(
        await lint('src/crypto/x.ts', "export * from '../errors/index.js'\n"),
      ).to.equal(1)
      expect(await lint('src/crypto/x.ts', "export * from '../db/index.js'\n")).to.equal(
        1,
      )
      expect(
        await lint('src/errors/x.ts', "export * from '../crypto/bytes.js'\n"),
      ).to.equal(1)
      expect(
        await lint('src/repositories/x.ts', "export * from '../services/vault.js'\n"),
      ).to.equal(1)
      expect(
        await lint(
          'src/sql/x.ts',
          "export * from '../repositories/user.repository.js'\n",
        ),
      ).to.equal(1)
      expect(await lint('src/services/x.ts', "export * from '../index.js'\n")).to.equal(1)
      expect(
        await lint('src/cli/commands/x.ts', "export * from '../../index.js'\n"),
      ).to.equal(1)
      expect(
        await lint(
          'src/repositories/sub/x.ts',
          "export * from '../../services/vault.js'\n",
        ),
      ).to.equal(1)
      expect(
        await lint(
          'src/testing/x.ts',
          "import type { Vault } from '../services/vault.js'\n",
        ),
      ).to.equal(1)
    })

    it('refuses them as import() and from any depth', async () => {
      expect(
        await lint(
          'src/crypto/x.ts',
          "export const f = () => import('../db/index.js')\n",
        ),
      ).to.equal(1)
      expect(
        await lint(
          'src/testing/local-db/deep/x.ts',
          "export const f = () => import('../../../services/vault.js')\n",
        ),
      ).to.equal(1)
    })

    it('allows downward imports', async () => {
      expect(
        await lint(
          'src/services/x.ts',
          "export * from '../repositories/user.repository.js'\n",
        ),
      ).to.equal(0)
      expect(await lint('src/sql/x.ts', "export * from '../crypto/bytes.js'\n")).to.equal(
        0,
      )
      expect(await lint('src/crypto/x.ts', "export * from './bytes.js'\n")).to.equal(0)
      expect(
        await lint('src/cli/commands/x.ts', "export * from '../command.js'\n"),
      ).to.equal(0)
      expect(
        await lint('src/cli/commands/x.ts', "export * from '../../services/vault.js'\n"),
      ).to.equal(0)
      expect(
        await lint(
          'src/cli/x.ts',
          "export const f = () => import('../testing/local-db/server.js')\n",
        ),
      ).to.equal(0)
    })
  })

  describe('src/ imports nothing outside src/', () => {
    const lint = (code: string) =>
      count('import-x/no-restricted-paths', 'src/cli/x.ts', code)
    // The rule resolves each import to a file, so the targets must exist.
    before(() => {
      expect(existsSync('tools/demo.ts'), 'tools/demo.ts').to.equal(true)
      expect(existsSync('test/support/chai.ts'), 'test/support/chai.ts').to.equal(true)
    })

    it('refuses tools/ and test/ by import, export … from and import()', async () => {
      expect(await lint("import '../../tools/demo.js'\n")).to.equal(1)
      expect(await lint("export * from '../../tools/demo.js'\n")).to.equal(1)
      expect(
        await lint("export const f = () => import('../../tools/demo.js')\n"),
      ).to.equal(1)
      expect(
        await lint("import { expect } from '../../test/support/chai.js'\n"),
      ).to.equal(1)
      expect(
        await lint(
          "export const f = async () => (await import('../../test/support/chai.js'))\n",
        ),
      ).to.equal(1)
    })

    it('refuses import() of a computed specifier, which lint cannot follow', async () => {
      const code = 'export const f = (name: string) => import(`../../tools/${name}.js`)\n'
      expect(await count('no-restricted-syntax', 'src/cli/x.ts', code)).to.equal(1)
      expect(
        await count(
          'no-restricted-syntax',
          'src/cli/x.ts',
          "export const f = () => import('./io.js')\n",
        ),
      ).to.equal(0)
    })

    it('allows src/, packages and node: built-ins', async () => {
      expect(await lint("import { createVault } from '../services/vault.js'\n")).to.equal(
        0,
      )
      expect(await lint("export const f = () => import('./io.js')\n")).to.equal(0)
      expect(
        await lint("import knex from 'knex'\nimport { tmpdir } from 'node:os'\n"),
      ).to.equal(0)
    })
  })
})
