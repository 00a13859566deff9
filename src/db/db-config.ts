import { ConfigurationError } from '../errors/index.js'

/** What emr-vault needs to reach its MySQL server. */
export interface DbConfig {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  /** Path of the PEM file of the CA that signed the server certificate; with it TLS is required and verified. */
  readonly sslCa?: string
  readonly poolMax?: number
  /**
   * Allow a non-loopback server without verified TLS. Keys and patient data
   * travel inside the statements, so this is for a private network you trust
   * for that, stated on purpose; off by default.
   */
  readonly allowInsecureTransport?: boolean
}

/** The variables read by {@link dbConfigFromEnv}. */
export const DB_ENV = {
  host: 'EMR_VAULT_DB_HOST',
  port: 'EMR_VAULT_DB_PORT',
  user: 'EMR_VAULT_DB_USER',
  password: 'EMR_VAULT_DB_PASSWORD',
  database: 'EMR_VAULT_DB_NAME',
  sslCa: 'EMR_VAULT_DB_SSL_CA',
  poolMax: 'EMR_VAULT_DB_POOL_MAX',
  allowInsecureTransport: 'EMR_VAULT_DB_ALLOW_INSECURE_TRANSPORT',
} as const

/**
 * Whether a server is configured: any EMR_VAULT_DB_* variable set says so. A
 * stray port or database name without a host is then a configuration error
 * naming EMR_VAULT_DB_HOST, not a silent fallback to a private local server
 * (and its development keys) that real data could be written into.
 */
export function isDbConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Object.values(DB_ENV).some((name) => Boolean(env[name]))
}

/**
 * Reads the connection settings from the environment (dotenv fills it from `.env`).
 * Throws a ConfigurationError naming the variable that is missing or malformed.
 */
export function dbConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DbConfig {
  const required = (name: string): string => {
    const value = env[name]
    if (value === undefined || value === '') {
      throw new ConfigurationError(`${name} is not set (see .env.example)`)
    }
    return value
  }
  const integer = (name: string, fallback: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigurationError(`${name} must be a positive integer`)
    }
    return value
  }
  const sslCa = env[DB_ENV.sslCa]
  return {
    host: required(DB_ENV.host),
    port: integer(DB_ENV.port, 3306),
    user: required(DB_ENV.user),
    password: env[DB_ENV.password] ?? '',
    database: required(DB_ENV.database),
    poolMax: integer(DB_ENV.poolMax, 10),
    ...(sslCa ? { sslCa } : {}),
    ...(env[DB_ENV.allowInsecureTransport] === 'yes'
      ? { allowInsecureTransport: true }
      : {}),
  }
}
