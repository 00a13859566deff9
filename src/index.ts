/**
 * emr-vault public API. Everything a caller may rely on is exported here by name;
 * test/public-api.test.ts pins the list.
 */
export {
  createVault,
  type RecoveryAuthority,
  type Vault,
  type VaultOptions,
} from './services/vault.js'
export { openVault, type OpenVaultOptions } from './services/open-vault.js'
export {
  runDoctor,
  worstStatus,
  type CheckStatus,
  type DoctorOptions,
  type PostureCheck,
} from './services/doctor.service.js'
export type { Session } from './services/session.js'
export type {
  RotateAllProgress,
  RotateAllResult,
  RotationResult,
} from './services/rotation.service.js'
export type {
  AccessEntry,
  ClinicalRecord,
  Demographics,
  NewClinicalRecord,
  NewUser,
  Patient,
  RecordKind,
  Role,
  UserSummary,
} from './services/domain.js'
export {
  auditReport,
  AUDIT_ACTIONS,
  type AuditAction,
  type AuditEntry,
  type AuditEvent,
  type AuditReportFilters,
} from './services/audit.service.js'
export {
  verifyAuditChain,
  type AuditVerifyOptions,
  type AuditVerifyResult,
} from './services/audit-verify.js'
export {
  createDb,
  dbConfigFromEnv,
  isDbConfigured,
  DB_ENV,
  type DbConfig,
} from './db/index.js'
export {
  emrVaultMigrations,
  migrateLatest,
  migrateRollback,
  migrationStatus,
  type MigrateOptions,
  type MigrateResult,
  type MigrationStatus,
  type RollbackResult,
} from './db/index.js'
export { KDF_POLICY, type KdfPolicy } from './crypto/kdf-policy.js'
export { generateUserKeyPair as generateRecoveryKeyPair } from './crypto/keypair.js'
export {
  AccessDeniedError,
  AuthenticationError,
  ConfigurationError,
  DatabaseError,
  IntegrityError,
  MigrationError,
  type MigrationProblem,
  NotFoundError,
  ValidationError,
  VaultError,
  type VaultErrorCode,
} from './errors/index.js'
