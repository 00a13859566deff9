import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
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

  describe('no import cycle in src/, type-only imports included', () => {
    // The rule reads the other files of a cycle from disk, so the cases are real
    // files: a small tree with its own src/ in a temporary directory, linted with
    // this repository's eslint.config.js. Nothing is written into the repository,
    // so an interrupted run cannot leave a cycle behind for the next lint.
    let root: string
    let fixture: ESLint
    const files: Record<string, string> = {
      // A value cycle.
      'src/value/a.ts':
        "import { b } from './b.js'\nexport const a = (): number => b() + 1\n",
      'src/value/b.ts':
        "import { a } from './a.js'\nexport const b = (): number => a() - 1\n",
      // The shape the services had: harmless at run time, still one tangle.
      'src/types/facade.ts':
        "import type { Step } from './service.js'\nexport type Facade = { step: Step }\n",
      'src/types/service.ts':
        "import type { Facade } from './facade.js'\nexport type Step = (f: Facade) => void\n",
      // Through a re-export and an import().
      'src/mixed/a.ts': "export * from './b.js'\nexport const a = 1\n",
      'src/mixed/b.ts': "export const b = () => import('./c.js')\n",
      'src/mixed/c.ts': "export { a } from './a.js'\n",
      // Allowed: a chain with a shared module at the bottom.
      'src/chain/top.ts':
        "import type { Value } from './shared.js'\nimport { middle } from './middle.js'\nexport const top = (v: Value) => middle(v)\n",
      'src/chain/middle.ts':
        "import type { Value } from './shared.js'\nexport const middle = (v: Value) => v\n",
      'src/chain/shared.ts': 'export type Value = number\n',
    }
    const cycles = async (dir: string) => {
      const results = await fixture.lintFiles([`src/${dir}/*.ts`])
      return Object.fromEntries(
        results.map((r) => [
          relative(root, r.filePath),
          r.messages.filter((m) => m.ruleId === 'project/no-import-cycle').length,
        ]),
      )
    }

    before(() => {
      root = mkdtempSync(join(tmpdir(), 'emr-vault-lint-'))
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true })
        writeFileSync(join(root, path), text)
      }
      // With an explicit config file, its patterns (src/**) are taken from cwd.
      fixture = new ESLint({ cwd: root, overrideConfigFile: resolve('eslint.config.js') })
    })
    after(() => rmSync(root, { recursive: true, force: true }))

    it('reports a two-file cycle at both ends', async () => {
      expect(await cycles('value')).to.deep.equal({
        'src/value/a.ts': 1,
        'src/value/b.ts': 1,
      })
    })

    it('counts type-only imports', async () => {
      expect(await cycles('types')).to.deep.equal({
        'src/types/facade.ts': 1,
        'src/types/service.ts': 1,
      })
    })

    it('follows export … from and import()', async () => {
      expect(await cycles('mixed')).to.deep.equal({
        'src/mixed/a.ts': 1,
        'src/mixed/b.ts': 1,
        'src/mixed/c.ts': 1,
      })
    })

    it('names the files of the cycle', async () => {
      const [result] = await fixture.lintFiles(['src/value/a.ts'])
      const [cycle] = result!.messages.filter(
        (m) => m.ruleId === 'project/no-import-cycle',
      )
      expect(cycle?.message).to.include(
        'src/value/a.ts → src/value/b.ts → src/value/a.ts',
      )
    })

    it('allows imports that do not lead back', async () => {
      expect(await cycles('chain')).to.deep.equal({
        'src/chain/middle.ts': 0,
        'src/chain/shared.ts': 0,
        'src/chain/top.ts': 0,
      })
    })
  })
})
