import { performance } from 'node:perf_hooks'
import { rowIdFromString } from '../../src/db/row-id.js'
import { findUserByUsername } from '../../src/repositories/user.repository.js'
import { benchPassword, seedPatients, type SeedUser } from './fixtures.js'
import { compare, interleave, timed, type Variant } from './harness.js'
import type { Scenario } from './scenario.js'
import {
  createSeedTables,
  seedChangePasswordBatched,
  seedChangePasswordRowByRow,
  seedSeedGrants,
} from './seed-method.js'

/**
 * Scenario 3: a password change for users holding 10 … 10,000 grants. emr-vault
 * re-wraps one private key (O(1)); the seed answer re-wraps every patient key.
 */
export const passwordScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b = await bench.fresh()
  await createSeedTables(b.db)
  const sizes = [...new Set(opts.grants)].sort((x, y) => x - y)
  const largest = sizes.at(-1)!

  // One user per size, registered through the vault; the largest creates the patients.
  const users = new Map<number, { user: SeedUser; username: string }>()
  const vaultPassword = new Map<number, string>()
  const seedPassword = new Map<number, string>()
  for (const n of sizes) {
    const username = `bench-pw-${n}`
    const password = benchPassword()
    const summary = await b.vault.registerUser({
      username,
      displayName: `Holder of ${n} grants`,
      password,
    })
    const row = await findUserByUsername(b.db, username)
    users.set(n, {
      username,
      user: {
        idBytes: rowIdFromString(summary.id, 'id'),
        id: summary.id,
        publicKey: row!.public_key,
      },
    })
    vaultPassword.set(n, password)
    seedPassword.set(n, password)
  }
  log(`seeding ${largest} patients and ${sizes.reduce((s, n) => s + n, 0)} grants`)
  const patients = await seedPatients(b, {
    owner: users.get(largest)!.user,
    count: largest,
    grantees: sizes
      .filter((n) => n !== largest)
      .map((n) => ({ user: users.get(n)!.user, upTo: n })),
    log,
  })
  for (const n of sizes) {
    await seedSeedGrants(
      b.db,
      users.get(n)!.user.idBytes,
      patients.slice(0, n).map((p) => p.idBytes),
      seedPassword.get(n)!,
    )
  }
  const granted = (await b
    .db('patient_key_grants')
    .select('user_id')
    .count({ n: '*' })
    .groupBy('user_id')) as unknown as { user_id: Buffer; n: number | string }[]
  for (const n of sizes) {
    const id = users.get(n)!.user.idBytes
    const count = Number(granted.find((g) => g.user_id.equals(id))?.n)
    if (count !== n) throw new Error(`user of size ${n} holds ${count} grants`)
  }

  const variants: Variant[] = sizes.flatMap((n): Variant[] => {
    const { username, user } = users.get(n)!
    return [
      {
        id: `seed-rows-${n}`,
        label: `seed method, one UPDATE per key (baseline)`,
        run: async () => {
          const next = benchPassword()
          const ms = await timed(() =>
            seedChangePasswordRowByRow(b.db, user.idBytes, seedPassword.get(n)!, next),
          )
          seedPassword.set(n, next)
          return ms
        },
      },
      {
        id: `seed-batch-${n}`,
        label: `seed method, 500-row upserts (its best case)`,
        run: async () => {
          const next = benchPassword()
          const ms = await timed(() =>
            seedChangePasswordBatched(b.db, user.idBytes, seedPassword.get(n)!, next),
          )
          seedPassword.set(n, next)
          return ms
        },
      },
      {
        id: `vault-${n}`,
        label: `emr-vault changePassword`,
        run: async () => {
          const next = benchPassword()
          const ms = await timed(() =>
            b.vault.changePassword(username, vaultPassword.get(n)!, next),
          )
          vaultPassword.set(n, next)
          return ms
        },
      },
    ]
  })
  log(`password change: users with ${sizes.join(', ')} grants`)
  const samples = await interleave({
    variants,
    rounds: opts.rounds,
    warmup: opts.warmup,
    units: 1,
    log,
  })
  // Both schemes still open their keys with the final passwords.
  const session = await b.vault.login(
    users.get(largest)!.username,
    vaultPassword.get(largest)!,
  )
  if ((await session.listAccessiblePatients()).length !== largest)
    throw new Error('grants lost after password changes')
  session.close()
  await seedChangePasswordBatched(
    b.db,
    users.get(largest)!.user.idBytes,
    seedPassword.get(largest)!,
    benchPassword(),
  )

  return {
    id: 'password',
    title:
      'Password change: emr-vault (O(1)) vs the seed answer (re-wrap every patient key)',
    kdf: 'TEST_KDF_POLICY',
    comparisons: sizes.map((n) =>
      compare({
        id: `password.${n}`,
        title: `user holding ${n.toLocaleString('en-GB')} grants`,
        unit: 'ms/change',
        baseline: `seed-rows-${n}`,
        variants: variants.filter((v) => v.id.endsWith(`-${n}`)),
        samples,
      }),
    ),
    notes: [
      'emr-vault here uses TEST_KDF_POLICY: verify the old password (bcrypt 4 + scrypt 2^10) and derive for the new one. ' +
        'At KDF_POLICY a change costs about two logins (scenario 5) whatever the grant count; the seed method has no KDF at all (SHA-256 of the password).',
      `One pool of ${largest.toLocaleString('en-GB')} patients; the user of size n holds real HPKE grants to the first n, and seed-style wrapped keys for the same n.`,
    ],
    seconds: (performance.now() - started) / 1000,
  }
}
