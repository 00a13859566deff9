import { performance } from 'node:perf_hooks'
import { wipe } from '../../src/crypto/bytes.js'
import { KDF_POLICY } from '../../src/crypto/kdf-policy.js'
import { deriveKek } from '../../src/crypto/kek.js'
import { x25519PublicKeyOf } from '../../src/crypto/keypair.js'
import { checkPasswordVerifier } from '../../src/crypto/password-verifier.js'
import { unwrapPrivateKey } from '../../src/crypto/private-key-wrap.js'
import { rowIdToString } from '../../src/db/row-id.js'
import { createVault } from '../../src/index.js'
import { findUserByUsername } from '../../src/repositories/user.repository.js'
import { appendAudit } from '../../src/services/audit.service.js'
import { inTransaction } from '../../src/services/transaction.js'
import { benchPassword } from './fixtures.js'
import { compare, fmt, interleave, median, timed, type Variant } from './harness.js'
import type { Scenario } from './scenario.js'

/** Unwraps are microseconds: each round times this many and reports one. */
const UNWRAPS_PER_ROUND = 200

/**
 * Scenario 5: login (unlock) at production KDF cost, and where the time goes.
 * The login runs bcrypt (verifier) and scrypt (KEK) concurrently, so its floor
 * is the slower of the two, not their sum.
 */
export const loginScenario: Scenario = async ({ opts, bench, log }) => {
  const started = performance.now()
  const b = await bench.fresh()
  const vault = createVault({
    db: b.db,
    recoveryPublicKey: b.recovery.publicKey,
    auditKey: b.auditKey,
    searchKey: b.searchKey,
    kdfPolicy: KDF_POLICY,
  })
  const username = 'bench-login'
  const password = benchPassword()
  await vault.registerUser({ username, displayName: 'Bench login', password })
  const row = (await findUserByUsername(b.db, username))!
  const scryptParams = { N: 2 ** row.kdf_log_n, r: row.kdf_r, p: row.kdf_p }
  if (scryptParams.N !== KDF_POLICY.scrypt.N) throw new Error('user not at KDF_POLICY')
  const kek = await deriveKek(password, row.kdf_salt, scryptParams)
  const userId = rowIdToString(row.id)

  const bcrypt = () => checkPasswordVerifier(password, row.password_verifier)
  const scrypt = async () => wipe(await deriveKek(password, row.kdf_salt, scryptParams))
  const variants: Variant[] = [
    {
      id: 'bcrypt',
      label: `bcrypt verify, cost ${KDF_POLICY.bcryptCost}`,
      run: () => timed(bcrypt),
    },
    {
      id: 'scrypt',
      label: `scrypt KEK, N=2^${Math.log2(KDF_POLICY.scrypt.N)} r=${KDF_POLICY.scrypt.r} p=${KDF_POLICY.scrypt.p}`,
      run: () => timed(scrypt),
    },
    {
      id: 'both',
      label: 'bcrypt and scrypt concurrently',
      run: () => timed(() => Promise.all([bcrypt(), scrypt()])),
    },
    {
      id: 'unwrap',
      label: 'unwrap private key + public-key check (AES-GCM, X25519)',
      run: () =>
        timed(async () => {
          for (let i = 0; i < UNWRAPS_PER_ROUND; i++) {
            const key = unwrapPrivateKey(row.wrapped_private_key, kek, userId)
            if (!x25519PublicKeyOf(key).equals(row.public_key))
              throw new Error('mismatch')
            wipe(key)
          }
        }).then((ms) => ms / UNWRAPS_PER_ROUND),
    },
    {
      id: 'db',
      label: "login's database part: user lookup + audited transaction",
      run: () =>
        timed(async () => {
          await findUserByUsername(b.db, username)
          await inTransaction(b.db, (trx) =>
            appendAudit(trx, b.auditKey, {
              actorUserId: row.id,
              action: 'user.login',
              outcome: 'success',
            }),
          )
        }),
    },
    {
      id: 'login',
      label: 'vault.login (lookup, both hashes, unwrap, audited)',
      run: () =>
        timed(async () => {
          const session = await vault.login(username, password)
          session.close()
        }),
    },
  ]
  log('login at KDF_POLICY')
  const samples = await interleave({
    variants,
    rounds: opts.loginRounds,
    warmup: 1,
    units: 1,
    log,
  })
  wipe(kek)
  // The baseline: per round, the slower of the two hashes run alone.
  const slower = samples
    .get('bcrypt')!
    .map((ms, i) => Math.max(ms, samples.get('scrypt')![i]!))
  samples.set('slower', slower)
  const m = (id: string) => median(samples.get(id)!)
  return {
    id: 'login',
    title: 'Login (unlock) at production KDF parameters (KDF_POLICY)',
    kdf: 'KDF_POLICY',
    comparisons: [
      compare({
        id: 'login.unlock',
        title: 'one login and its parts',
        unit: 'ms',
        baseline: 'slower',
        variants: [
          { id: 'slower', label: 'slower of bcrypt and scrypt, alone (baseline)' },
          ...variants,
        ],
        samples,
        notes: [
          `Where a login goes (medians): scrypt ${fmt(m('scrypt'))} ms and bcrypt ${fmt(m('bcrypt'))} ms, ` +
            `run together in ${fmt(m('both'))} ms; unwrap ${fmt(m('unwrap'))} ms; ` +
            `user lookup + audit transaction ${fmt(m('db'))} ms; the login as a whole ${fmt(m('login'))} ms.`,
        ],
      }),
    ],
    notes: [
      'libuv runs bcrypt and scrypt on two pool threads: on 2 shared cores, anything else running stretches "concurrently".',
    ],
    seconds: (performance.now() - started) / 1000,
  }
}
