import { expect } from 'chai'
import { ESLint } from 'eslint'

/** DESIGN.md §6 is enforced by eslint.config.js; this proves the rule bites. */
describe('layer rule (eslint no-restricted-imports)', () => {
  const eslint = new ESLint()
  const lint = async (file: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath: file })
    return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').length
  }

  it('refuses upward and sideways imports', async () => {
    expect(
      await lint('src/crypto/x.ts', "export * from '../errors/index.js'\n"),
    ).to.equal(1)
    expect(await lint('src/crypto/x.ts', "export * from '../db/index.js'\n")).to.equal(1)
    expect(
      await lint('src/errors/x.ts', "export * from '../crypto/bytes.js'\n"),
    ).to.equal(1)
    expect(
      await lint('src/repositories/x.ts', "export * from '../services/vault.js'\n"),
    ).to.equal(1)
    expect(
      await lint('src/sql/x.ts', "export * from '../repositories/user.repository.js'\n"),
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
  })

  it('allows downward imports', async () => {
    expect(
      await lint(
        'src/services/x.ts',
        "export * from '../repositories/user.repository.js'\n",
      ),
    ).to.equal(0)
    expect(await lint('src/sql/x.ts', "export * from '../crypto/bytes.js'\n")).to.equal(0)
    expect(await lint('src/crypto/x.ts', "export * from './bytes.js'\n")).to.equal(0)
    expect(
      await lint('src/cli/commands/x.ts', "export * from '../command.js'\n"),
    ).to.equal(0)
    expect(
      await lint('src/cli/commands/x.ts', "export * from '../../services/vault.js'\n"),
    ).to.equal(0)
  })
})
