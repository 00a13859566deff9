/**
 * The rebuild as a process of its own, for tools/scale/search-rotation.ts to
 * kill with SIGKILL (test/support/reindex-child.ts, with the scale table
 * registered): keys and the admin's credentials as JSON on stdin, never in
 * argv or the environment, where `ps` would show them. Prints `done N` per
 * patient, then one line of JSON with the result (counts only).
 */
import { createDb, dbConfigFromEnv } from '../../src/db/index.js'
import { createVault } from '../../src/services/vault.js'
import { SPECIMENS } from './search-rotation-table.js'

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
    tables: [SPECIMENS],
  })
  const admin = await vault.login(input.username, input.password)
  const result = await vault.rebuildSearchIndexes(
    { admin, recoveryPrivateKey: b(input.recoveryPrivateKey) },
    { onProgress: (p) => process.stdout.write(`done ${p.patients}\n`) },
  )
  process.stdout.write(
    `${JSON.stringify({
      finished: result.finished,
      patients: result.patients,
      rows: result.rows,
      remaining: result.remaining,
      conflicts: result.conflicts.length,
    })}\n`,
  )
  admin.close()
  await db.destroy()
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).name}: ${(err as Error).message}\n`)
  process.exitCode = 1
})
