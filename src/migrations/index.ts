import type { Knex } from 'knex'
import * as keyHierarchy from './20261129_0001_key_hierarchy.js'
import * as auditLog from './20261129_0002_audit_log.js'
import * as breakGlass from './20261129_0003_break_glass.js'
import * as rotationRuns from './20261129_0004_rotation_runs.js'
import * as emergencyKeyMac from './20261129_0005_emergency_key_mac.js'
import * as declaredTables from './20261202_0003_declared_tables.js'
import * as userKeyCertificates from './20261202_0004_user_key_certificates.js'
import * as emergencyKeyVersions from './20261202_0005_emergency_key_versions.js'
import * as chartState from './20261202_0006_chart_state.js'
import * as patientSearchIndexes from './20261203_0007_patient_search_indexes.js'

/** One of emr-vault's migrations under the name its history records. */
export interface NamedMigration {
  readonly name: string
  readonly migration: Required<Knex.Migration>
}

/**
 * emr-vault's migrations in the order they run, imported statically rather than
 * found by scanning a directory. The names are written here, without a file
 * extension, so the history a database records is the same whether the code runs
 * from source through tsx (.ts files) or built (.js files beside .d.ts and .map
 * files, none of which can be mistaken for a migration).
 *
 * A new migration is a new file here plus a line at the end of this list; a
 * published name never changes, or databases that recorded it would be refused.
 */
export const MIGRATIONS: readonly NamedMigration[] = [
  { name: '20261129_0001_key_hierarchy', migration: keyHierarchy },
  { name: '20261129_0002_audit_log', migration: auditLog },
  { name: '20261129_0003_break_glass', migration: breakGlass },
  { name: '20261129_0004_rotation_runs', migration: rotationRuns },
  { name: '20261129_0005_emergency_key_mac', migration: emergencyKeyMac },
  { name: '20261202_0003_declared_tables', migration: declaredTables },
  { name: '20261202_0004_user_key_certificates', migration: userKeyCertificates },
  { name: '20261202_0005_emergency_key_versions', migration: emergencyKeyVersions },
  { name: '20261202_0006_chart_state', migration: chartState },
  { name: '20261203_0007_patient_search_indexes', migration: patientSearchIndexes },
]
