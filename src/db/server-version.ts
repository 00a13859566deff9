import { ConfigurationError } from '../errors/index.js'

export type ServerFlavour = 'mysql' | 'mariadb'

export interface ServerInfo {
  readonly flavour: ServerFlavour
  readonly major: number
  readonly minor: number
  readonly patch: number
  /** `VERSION()` as the server reported it. */
  readonly version: string
}

/**
 * Oldest servers whose `AES_ENCRYPT` takes an IV under `block_encryption_mode`:
 * MySQL 5.6.17 (WL#6781), MariaDB 11.2.0 (its AES_ENCRYPT page). We ask for MySQL
 * 8.0, the oldest line Oracle still documents, and MariaDB 11.2.
 */
const MINIMUM: Record<ServerFlavour, readonly [number, number]> = {
  mysql: [8, 0],
  mariadb: [11, 2],
}

/** Parses `SELECT VERSION()` output such as `9.7.4` or `11.8.9-MariaDB-deb13`. */
export function parseServerVersion(version: string): ServerInfo {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version)
  if (!match) throw new ConfigurationError(`cannot parse server version "${version}"`)
  const flavour: ServerFlavour = /mariadb/i.test(version) ? 'mariadb' : 'mysql'
  return {
    flavour,
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3]),
    version,
  }
}

/**
 * Refuses a server whose AES_ENCRYPT cannot take an IV: there only ECB exists,
 * which leaks equal plaintext blocks (docs/envelope.md).
 */
export function assertSupportedServer(version: string): ServerInfo {
  const info = parseServerVersion(version)
  const [major, minor] = MINIMUM[info.flavour]
  if (info.major < major || (info.major === major && info.minor < minor)) {
    const name = info.flavour === 'mariadb' ? 'MariaDB' : 'MySQL'
    throw new ConfigurationError(
      `${name} ${info.major}.${info.minor}.${info.patch} is not supported: its AES_ENCRYPT ` +
        `cannot take an IV (no aes-256-cbc). Use MySQL >= 8.0 or MariaDB >= 11.2.`,
    )
  }
  return info
}
