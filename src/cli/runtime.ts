import dotenv from 'dotenv'
import type { Knex } from 'knex'
import { dbConfigFromEnv, isDbConfigured } from '../db/db-config.js'
import type { Session } from '../services/session.js'
import type { Vault } from '../services/vault.js'
import type { TableDeclaration } from '../schema/define-table.js'
import { devDbConfig } from '../testing/dev-database.js'
import type { KdfPolicy } from '../crypto/kdf-policy.js'
import {
  devAuditKey,
  devRecoveryPublicKey,
  devSearchKey,
  previousSearchKey,
} from './deployment-keys.js'
import { rejectOnAbort } from './interrupt.js'
import { err, readSecret } from './io.js'
import { readRecoveryKeyFile } from './recovery-key-file.js'

/**
 * What a command runs on: the database (the configured server, or in development
 * the private local one), the vault with the deployment's keys, and helpers to
 * act as a user. Everything opened is closed by `close()`.
 */
export class CliRuntime {
  readonly json: boolean
  readonly passwordFromStdin: boolean
  /** Aborted on Ctrl-C, SIGINT or SIGTERM; the reason is an InterruptedError. */
  readonly signal: AbortSignal
  readonly #kdfPolicy: KdfPolicy | undefined
  #db: Knex | undefined
  #vault: Vault | undefined
  readonly #sessions: Session[] = []

  constructor(flags: {
    json: boolean
    passwordStdin: boolean
    signal: AbortSignal
    kdfPolicy?: KdfPolicy | undefined
  }) {
    this.json = flags.json
    this.passwordFromStdin = flags.passwordStdin
    this.signal = flags.signal
    this.#kdfPolicy = flags.kdfPolicy
    dotenv.config({ quiet: true })
  }

  static get production(): boolean {
    return process.env['NODE_ENV'] === 'production'
  }

  async db(): Promise<Knex> {
    if (!this.#db) {
      // knex and the services are loaded when a command first needs them, so
      // that `--help` and the commands that need no database start quickly.
      const { createDb } = await import('../db/connection.js')
      if (isDbConfigured() || CliRuntime.production) {
        this.#db = createDb(dbConfigFromEnv())
      } else {
        // Development: the private local server, started if needed.
        this.#db = createDb(await devDbConfig(err))
      }
      // Fail here, with a clear error, if the server is down or unsupported.
      await this.#db.raw('SELECT 1')
    }
    return this.#db
  }

  /** The vault; `tables`, the application's declarations, only on the first call. */
  async vault(tables?: readonly TableDeclaration[]): Promise<Vault> {
    const { createVault } = await import('../services/vault.js')
    this.#vault ??= createVault({
      ...(tables ? { tables } : {}),
      db: await this.db(),
      recoveryPublicKey: devRecoveryPublicKey(),
      auditKey: devAuditKey(),
      searchKey: devSearchKey(),
      ...(previousSearchKey() ? { previousSearchKey: previousSearchKey()! } : {}),
      ...(this.#kdfPolicy ? { kdfPolicy: this.#kdfPolicy } : {}),
    })
    return this.#vault
  }

  /**
   * A password or other secret, from stdin or a hidden prompt. A prompt gives way
   * to Ctrl-C even in a command that handles interruption itself.
   */
  async secret(label: string): Promise<string> {
    const reading = readSecret(label, this.passwordFromStdin)
    reading.catch(() => undefined) // abandoned when interrupted
    const stop = rejectOnAbort(this.signal)
    try {
      return await Promise.race([reading, stop.promise])
    } finally {
      stop.dispose()
    }
  }

  /** Logs in as `username`, reading the password from stdin or a hidden prompt. */
  async loginAs(username: string): Promise<Session> {
    const password = await this.secret(`password for ${username}`)
    const session = await (await this.vault()).login(username, password)
    this.#sessions.push(session)
    return session
  }

  /**
   * An administrator with the recovery key: the key file is read and checked
   * first (the command's validation has already checked it, before any password
   * was asked), then `admin` logs in.
   */
  async recoveryAuthority(
    keyFile: string,
    admin: string,
  ): Promise<{ admin: Session; recoveryPrivateKey: Buffer }> {
    const recoveryPrivateKey = readRecoveryKeyFile(keyFile).privateKey
    return { admin: await this.loginAs(admin), recoveryPrivateKey }
  }

  async close(): Promise<void> {
    for (const s of this.#sessions) s.close()
    await this.#db?.destroy()
  }
}
