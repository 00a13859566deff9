import { randomBytes } from 'node:crypto'
import { observeStatements } from '../../src/sql/prepared.js'
import { BenchDatabase, benchServerConfig } from './database.js'
import { benchSession, seedPatients, seedUserOf } from './fixtures.js'
const config = await benchServerConfig('emr_vault_bench_prof', () => {})
const bench = BenchDatabase.create(config, randomBytes(32))
try {
  const b = await bench.fresh()
  const { session: admin } = await benchSession(b, 'adm', ['admin'])
  const { session: c } = await benchSession(b, 'own')
  await seedPatients(b, { owner: seedUserOf(c), count: 10, recordsPerPatient: 10 })
  await b.vault.setUpEmergencyAccess({ admin, recoveryPrivateKey: b.recovery.privateKey })
  const times = new Map<string, number[]>()
  let last = performance.now()
  let lastOp = 'start'
  observeStatements((e) => {
    const now = performance.now()
    ;(times.get(lastOp) ?? times.set(lastOp, []).get(lastOp)!).push(now - last)
    last = now
    lastOp = e.operation
  })
  const t = performance.now()
  await b.vault.rotateAll({ admin, recoveryPrivateKey: b.recovery.privateKey })
  console.log('total', performance.now() - t)
  observeStatements(undefined)
  for (const [op, ts] of times)
    console.log(op.padEnd(30), ts.length, ts.reduce((a, x) => a + x, 0).toFixed(1))
} finally {
  await bench.drop()
}
