/**
 * `npx tsx tools/bench/emergency-rotation-time.ts [patients] [rounds]`: wall time
 * of `vault.rotateEmergencyKey` over `patients` real vault patients (2,000 by
 * default), `rounds` rotations in a row (3 by default) on the same patients.
 * Not part of `npm run bench`; the numbers are in docs/performance.md.
 *
 * Runs on the server configured in the environment (EMR_VAULT_DB_HOST …), in
 * the database `emr_vault_bench_emergency`, dropped at the start and at the end.
 */
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { BenchDatabase, benchServerConfig, serverVersion } from './database.js'

const patients = Number(process.argv[2] ?? 2000)
const rounds = Number(process.argv[3] ?? 3)

const config = await benchServerConfig('emr_vault_bench_emergency', (l) =>
  console.error(l),
)
const bench = BenchDatabase.create(config, randomBytes(32))
try {
  const { vault, recovery } = await bench.fresh()
  const password = `pw-${randomBytes(12).toString('base64url')}`
  await vault.registerUser({
    username: 'admin',
    displayName: 'Admin',
    password,
    roles: ['admin'],
  })
  await vault.registerUser({ username: 'clin', displayName: 'Clinician', password })
  await vault.registerUser({
    username: 'erin',
    displayName: 'Emergency',
    password,
    roles: ['emergency'],
  })
  const admin = await vault.login('admin', password)
  const clin = await vault.login('clin', password)
  const authority = { admin, recoveryPrivateKey: recovery.privateKey }
  await vault.setUpEmergencyAccess(authority)
  await vault.grantEmergencyKey(authority, (await vault.findUser('erin')).id)
  let next = 0
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < patients) {
        const i = next++
        await clin.createPatient({ fullName: `Bench ${i}`, dateOfBirth: '1970-01-01' })
      }
    }),
  )
  console.log(
    `${await serverVersion(config)}; ${patients} patients; load ${loadavg()[0]!.toFixed(1)}`,
  )
  const times: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now()
    const result = await vault.rotateEmergencyKey(authority)
    const ms = performance.now() - t0
    times.push(ms)
    console.log(
      `round ${r + 1}: v${result.fromVersion}->v${result.toVersion}, ${result.resealed} re-sealed, ` +
        `${(ms / 1000).toFixed(2)} s (${((ms / result.resealed) * 1000).toFixed(0)} us/patient); ` +
        `load ${loadavg()[0]!.toFixed(1)}`,
    )
  }
  const sorted = [...times].sort((a, b) => a - b)
  console.log(`median ${(sorted[Math.floor(sorted.length / 2)]! / 1000).toFixed(2)} s`)
  admin.close()
  clin.close()
} finally {
  await bench.drop()
}
