/**
 * The rebuild of the search indexes as a process of its own, for the kill test
 * (test/search/reindex.test.ts): reads its keys and the admin's credentials as JSON on
 * stdin (made at test time), prints each patient done as `done N`, then `finished`.
 */
import { createDb, dbConfigFromEnv } from '../../src/db/index.js'
import { createVault } from '../../src/services/vault.js'

interface Input {
  auditKey: string
  searchKey: string
  previousSearchKey: string
  recoveryPublicKey: string
  recoveryPrivateKey: string
  username: string
  password: string
}

async function main(): Promise<void> {
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  const input = JSON.parse(text) as Input
  const b = (s: string) => Buffer.from(s, 'base64')
  const db = createDb(dbConfigFromEnv())
  const vault = createVault({
    db,
    auditKey: b(input.auditKey),
    searchKey: b(input.searchKey),
    previousSearchKey: b(input.previousSearchKey),
    recoveryPublicKey: b(input.recoveryPublicKey),
  })
  const admin = await vault.login(input.username, input.password)
  const result = await vault.rebuildSearchIndexes(
    { admin, recoveryPrivateKey: b(input.recoveryPrivateKey) },
    { onProgress: (p) => process.stdout.write(`done ${p.patients}\n`) },
  )
  process.stdout.write(result.finished ? 'finished\n' : 'stopped\n')
  admin.close()
  await db.destroy()
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).name}: ${(err as Error).message}\n`)
  process.exitCode = 1
})
