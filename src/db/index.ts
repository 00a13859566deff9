export { createDb, isLoopbackHost, knexConfig } from './connection.js'
export { dbConfigFromEnv, isDbConfigured, DB_ENV, type DbConfig } from './db-config.js'
export {
  assertSupportedServer,
  parseServerVersion,
  type ServerInfo,
  type ServerFlavour,
} from './server-version.js'
export { SESSION_SQL } from './session-setup.js'
export { newRowId, rowIdFromString, rowIdToString } from './row-id.js'
export { MYSQL2_VALUE_CHANNELS, subscribedValueChannels } from './mysql2-channels.js'
export {
  migrateLatest,
  migrateRollback,
  migrationStatus,
  type MigrateOptions,
  type MigrateResult,
  type MigrationStatus,
  type RollbackResult,
} from './migrate.js'
export { emrVaultMigrations, migrationSource } from './migration-source.js'
