/**
 * emr-vault public API. Everything a caller may rely on is exported here by name;
 * test/public-api.test.ts pins the list.
 *
 * Results (what the functions and a Session's methods return) are plain data
 * that survives JSON.stringify: ids are UUID strings (lower case), audit seqs
 * decimal strings, MACs hex, times Dates (ISO 8601 in JSON). Key material is the
 * exception and is not meant to be serialised: keys go in and out as raw 32-byte
 * Buffers, which the caller can wipe.
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
// Declared tables: an application's own encrypted tables, their repository and migrations.
export {
  defineTable,
  type ChangesOf,
  type DeclaredField,
  type NewRowOf,
  type PlainFieldOf,
  type RowOf,
  type TableDeclaration,
  type TableSpec,
} from './schema/define-table.js'
export type { EncryptedColumn, PlainColumn, ValueOf } from './schema/column.js'
export { encrypted, type TextPattern } from './schema/encrypted-columns.js'
export { plain } from './schema/plain-columns.js'
// Search indexes in a declaration, and what a search returns (docs/search.md).
export { normalise, type Normaliser } from './schema/normalisers.js'
export {
  searchIndex,
  type CoarseIndexSpec,
  type ExactIndexSpec,
  type IndexFields,
  type IndexSpec,
} from './schema/search-indexes.js'
export type { IndexEstimate } from './schema/index-planner.js'
export type { SearchOptions, SearchResult } from './services/search.service.js'
export type { SearchLimits } from './services/search-limits.js'
export type {
  ReindexOptions,
  ReindexProgress,
  ReindexResult,
} from './services/search-reindex.service.js'
export type {
  ListRowsOptions,
  RowPage,
  TableRepository,
} from './services/table-repository.js'
export {
  addEncryptedColumns,
  createEncryptedTable,
  dropEncryptedTable,
} from './schema/table-ddl.js'
export {
  describeTableDrift,
  type DriftKind,
  type DriftProblem,
} from './schema/table-drift.js'
// Bringing existing data into declared tables: the options and results of
// vault.convertPlaintextColumn / convertLegacyColumn, the error of a legacy
// value that does not decrypt, and MySQL's two-argument AES_DECRYPT (aes-128-ecb)
// in Node, for a key resolver that unwraps a per-patient legacy key.
export type {
  ConversionOptions,
  ConversionProgress,
  ConversionResult,
} from './services/conversion-job.js'
export type { ConvertPlaintextOptions } from './services/convert-plaintext.service.js'
export type {
  ConvertLegacyOptions,
  LegacyKeyResolver,
} from './services/convert-legacy.service.js'
export { LegacyKeyError } from './errors/index.js'
export { mysqlAesEcbDecrypt } from './crypto/mysql-aes-ecb.js'
export type {
  RotateAllProgress,
  RotateAllResult,
  RotationResult,
} from './services/rotation.service.js'
export type {
  EmergencyRotationOptions,
  EmergencyRotationProgress,
  EmergencyRotationResult,
} from './services/emergency-rotation.service.js'
export type { RetiredEmergencyMaterial } from './repositories/emergency-key.repository.js'
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
  type AuditReportFilters,
} from './services/audit.service.js'
export { toFhirAuditEvent, type FhirAuditEvent } from './services/audit-fhir.js'
export {
  disclosuresOf,
  type Disclosure,
  type DisclosureBasis,
  type DisclosureOptions,
} from './services/audit-disclosures.js'
export {
  verifyAuditChain,
  type AuditChainProblem,
  type AuditHeadState,
  type AuditVerifyOptions,
  type AuditVerifyResult,
} from './services/audit-verify.js'
export {
  verifyPatientChart,
  type Chart,
  type ChartBaselineResult,
  type ChartVerifyResult,
} from './services/chart.service.js'
export type { ChartFinding } from './services/chart-state.service.js'
export { deploymentKeysFromEnv, type DeploymentKeys } from './config/deployment-keys.js'
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
  RateLimitError,
  ValidationError,
  VaultError,
  type VaultErrorCode,
} from './errors/index.js'
