import { expect } from 'chai'
import * as api from '../src/index.js'

describe('public API (src/index.ts)', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(api).sort()).to.deep.equal([
      'AUDIT_ACTIONS',
      'AccessDeniedError',
      'AuthenticationError',
      'ConfigurationError',
      'DB_ENV',
      'DatabaseError',
      'IntegrityError',
      'KDF_POLICY',
      'LegacyKeyError',
      'MigrationError',
      'NotFoundError',
      'RateLimitError',
      'ValidationError',
      'VaultError',
      'addEncryptedColumns',
      'auditReport',
      'createDb',
      'createEncryptedTable',
      'createVault',
      'dbConfigFromEnv',
      'defineTable',
      'deploymentKeysFromEnv',
      'describeTableDrift',
      'disclosuresOf',
      'dropEncryptedTable',
      'emrVaultMigrations',
      'encrypted',
      'generateRecoveryKeyPair',
      'isDbConfigured',
      'migrateLatest',
      'migrateRollback',
      'migrationStatus',
      'mysqlAesEcbDecrypt',
      'normalise',
      'openVault',
      'plain',
      'runDoctor',
      'searchIndex',
      'toFhirAuditEvent',
      'verifyAuditChain',
      'verifyPatientChart',
      'worstStatus',
    ])
  })

  it('exports exactly these column factories', () => {
    expect(Object.keys(api.encrypted)).to.deep.equal([
      'text',
      'date',
      'dateTime',
      'integer',
      'decimal',
      'boolean',
      'json',
      'bytes',
    ])
    expect(Object.keys(api.plain)).to.deep.equal([
      'text',
      'integer',
      'boolean',
      'dateTime',
      'rowId',
      'enum',
    ])
  })

  it('exports exactly these search index factories and normalisers', () => {
    expect(Object.keys(api.searchIndex)).to.deep.equal(['exact', 'coarse'])
    expect(Object.keys(api.normalise)).to.deep.equal([
      'nfkc',
      'casefold',
      'whitespace',
      'lettersAndDigits',
      'digits',
      'lastWord',
      'year',
      'phonetic',
      'prefix',
    ])
  })

  it('gives every error a stable code', () => {
    const codes = [
      new api.ValidationError('f', 'is bad').code,
      new api.NotFoundError('user', 'x').code,
      new api.AuthenticationError().code,
      new api.AccessDeniedError('no').code,
      new api.IntegrityError('bad tag').code,
      new api.ConfigurationError('bad').code,
      new api.MigrationError('locked', 'held').code,
      new api.LegacyKeyError('t', 'c', 'row', 'patient').code,
      new api.RateLimitError('too many', 1000).code,
    ]
    expect(codes).to.deep.equal([
      'VALIDATION',
      'NOT_FOUND',
      'AUTHENTICATION',
      'ACCESS_DENIED',
      'INTEGRITY',
      'CONFIGURATION',
      'CONFIGURATION',
      'INTEGRITY',
      'RATE_LIMITED',
    ])
    // A wrong legacy key is an integrity failure: caught as one, told apart by class.
    expect(new api.LegacyKeyError('t', 'c', 'row', 'patient')).to.be.instanceOf(
      api.IntegrityError,
    )
  })

  it('exports the types of the conversions', () => {
    // Checked by tsc: each annotation names a type the package exports.
    const progress: api.ConversionProgress = { patients: 1, rows: 2, total: 3 }
    const common: api.ConversionOptions = { dryRun: true, onProgress: () => {} }
    const resolver: api.LegacyKeyResolver = async () => Buffer.alloc(16)
    const legacy: api.ConvertLegacyOptions = {
      ...common,
      field: 'note',
      from: 'note_legacy',
      key: resolver,
    }
    const plaintext: api.ConvertPlaintextOptions = { ...common, field: 'drug' }
    const result: api.ConversionResult = {
      table: 'medications',
      field: 'drug',
      column: 'drug_plain',
      dryRun: true,
      patients: progress.patients,
      rows: progress.rows,
      cleared: 0,
      finished: true,
      remaining: { patients: 1, rows: 2 },
    }
    expect([legacy.from, plaintext.field, result.column]).to.deep.equal([
      'note_legacy',
      'drug',
      'drug_plain',
    ])
  })

  it('exports the types of the emergency key rotation', () => {
    // Checked by tsc: each annotation names a type the package exports.
    const progress: api.EmergencyRotationProgress = { resealed: 1, total: 2 }
    const options: api.EmergencyRotationOptions = {
      onProgress: (p: api.EmergencyRotationProgress) => void p.total,
      signal: new AbortController().signal,
    }
    const retired: api.RetiredEmergencyMaterial = { seals: 0, holders: 1, keys: 1 }
    const result: api.EmergencyRotationResult = {
      fromVersion: 1,
      toVersion: 2,
      resumed: false,
      holders: 1,
      resealed: progress.resealed,
      finished: true,
      retired,
    }
    expect([
      typeof options.onProgress,
      result.toVersion,
      result.retired.keys,
    ]).to.deep.equal(['function', 2, 1])
  })
})
