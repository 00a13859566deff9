import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type mysql from 'mysql2/promise'
import { expect } from '../support/chai.js'
import type { Vault } from '../../src/services/vault.js'
import {
  createMedicationsTable,
  createPatients,
  legacyConnection,
  rawDump,
  rowValues,
  writeLegacyRows,
} from '../support/conversion-fixture.js'
import { useOwnDatabase } from '../support/own-database.js'
import { registerTestUser, RUN_RECOVERY, testVault } from '../support/vault-fixture.js'
import { runCli } from './run-cli.js'

/** `emr-vault convert …` in-process: dry run, a legacy key typed in, the drop, their refusals. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TABLE = 'meds_cli'

describe('emr-vault convert (in-process)', function () {
  this.timeout(120_000)
  const own = useOwnDatabase({ env: true })
  let vault: Vault
  let legacy: mysql.Connection
  const dir = mkdtempSync(join(tmpdir(), 'emr-vault-convert-cli-'))
  const keyFile = join(dir, 'recovery.json')
  const converting = join(dir, 'converting.mjs')
  const converted = join(dir, 'converted.mjs')
  let admin: { username: string; password: string }

  before(async () => {
    ;({ vault } = testVault({ db: own.db() }))
    writeFileSync(
      keyFile,
      JSON.stringify({
        publicKey: RUN_RECOVERY.publicKey.toString('base64'),
        privateKey: RUN_RECOVERY.privateKey.toString('base64'),
      }),
      { mode: 0o600 },
    )
    const module = (convertingFrom: string) =>
      `import { defineTable } from ${JSON.stringify(join(ROOT, 'src/schema/define-table.ts'))}
import { encrypted } from ${JSON.stringify(join(ROOT, 'src/schema/encrypted-columns.ts'))}
export const tables = [defineTable({
  name: '${TABLE}',
  encrypted: { drug: encrypted.text({ maxBytes: 200, nullable: true }), note: encrypted.text({ maxBytes: 400, nullable: true }) },
  ${convertingFrom}
})]
`
    writeFileSync(converting, module("convertingFrom: { drug: 'drug_plain' },"), {
      mode: 0o600,
    })
    writeFileSync(converted, module(''), { mode: 0o600 })
    admin = await registerTestUser(vault, 'cc-admin', ['admin'])
    const clinician = await registerTestUser(vault, 'cc-clinician')
    const session = await vault.login(clinician.username, clinician.password)
    legacy = await legacyConnection(own.name())
    await createMedicationsTable(own.db(), TABLE)
    const ids = await createPatients(session, 3, 3)
    session.close()
    await writeLegacyRows(
      legacy,
      TABLE,
      ids.flatMap((id) => rowValues(id, 2, 'cli')),
      {
        tableKey: Buffer.from('old table key'),
      },
    )
  })
  after(async () => {
    await legacy?.end()
  })

  const run = (args: string[], ...stdin: string[]) =>
    runCli([...args, '--password-stdin'], { input: stdin.map((l) => `${l}\n`).join('') })
  const authority = () => ['--as', admin.username, '--recovery-key', keyFile]

  it('refuses a --tables module that others may write (its code would run with the keys), before asking for anything', async () => {
    const shared = join(dir, 'shared.mjs')
    writeFileSync(shared, 'export const tables = []\n')
    chmodSync(shared, 0o664)
    const r = await run(
      [
        'convert',
        'plaintext',
        '--tables',
        shared,
        '--table',
        TABLE,
        '--field',
        'drug',
        ...authority(),
      ],
      admin.password,
    )
    expect(r.code, r.stderr).to.equal(2)
    expect(r.stderr).to.include('writable by others')
  })

  it('dry run, legacy with a typed-in key, plaintext, then drop-plaintext (refused until converted and undeclared)', async () => {
    const before = await rawDump(legacy, TABLE)
    const dry = await run(
      [
        'convert',
        'plaintext',
        '--tables',
        converting,
        '--table',
        TABLE,
        '--field',
        'drug',
        '--dry-run',
        '--json',
        ...authority(),
      ],
      admin.password,
    )
    expect(dry.code, dry.stderr).to.equal(0)
    expect(JSON.parse(dry.stdout)).to.deep.include({ dryRun: true, patients: 3, rows: 6 })
    expect(dry.stderr).to.include('convert plaintext: dry run: would convert 6 values')
    expect((await rawDump(legacy, TABLE)).equals(before)).to.equal(true)

    const wrong = await run(
      [
        'convert',
        'legacy',
        '--tables',
        converting,
        '--table',
        TABLE,
        '--field',
        'note',
        '--from',
        'note_legacy',
        ...authority(),
      ],
      admin.password,
      'not the key',
    )
    expect(wrong.code, wrong.stderr).to.equal(6)
    expect(wrong.stderr).to.match(/note_legacy of row [0-9a-f-]{36} does not decrypt/)

    const legacyRun = await run(
      [
        'convert',
        'legacy',
        '--tables',
        converting,
        '--table',
        TABLE,
        '--field',
        'note',
        '--from',
        'note_legacy',
        '--key-encoding',
        'hex',
        '--json',
        ...authority(),
      ],
      admin.password,
      Buffer.from('old table key').toString('hex'),
    )
    expect(legacyRun.code, legacyRun.stderr).to.equal(0)
    expect(JSON.parse(legacyRun.stdout)).to.deep.include({
      patients: 3,
      rows: 6,
      finished: true,
    })

    const drop = (module: string) =>
      run(
        [
          'convert',
          'drop-plaintext',
          '--tables',
          module,
          '--table',
          TABLE,
          '--column',
          'drug_plain',
          '--as',
          admin.username,
        ],
        admin.password,
      )
    expect((await drop(converted)).stderr).to.include('still holds values')
    const plain = await run(
      [
        'convert',
        'plaintext',
        '--tables',
        converting,
        '--table',
        TABLE,
        '--field',
        'drug',
        ...authority(),
      ],
      admin.password,
    )
    expect(plain.code, plain.stderr).to.equal(0)
    expect((await drop(converting)).stderr).to.include('still read by')
    const dropped = await drop(converted)
    expect([dropped.code, dropped.stdout], dropped.stderr).to.deep.equal([
      0,
      `Dropped ${TABLE}.drug_plain\n`,
    ])

    const unknown = await run(
      [
        'convert',
        'plaintext',
        '--tables',
        converted,
        '--table',
        'meds_other',
        '--field',
        'drug',
        ...authority(),
      ],
      admin.password,
    )
    expect([unknown.code, unknown.stderr.trim()]).to.deep.equal([
      5,
      `emr-vault convert plaintext: "table" meds_other is not declared in ${converted} (it declares: ${TABLE})`,
    ])
  })
})
