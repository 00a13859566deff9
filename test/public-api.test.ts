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
      'MigrationError',
      'NotFoundError',
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
      'dropEncryptedTable',
      'emrVaultMigrations',
      'encrypted',
      'generateRecoveryKeyPair',
      'isDbConfigured',
      'migrateLatest',
      'migrateRollback',
      'migrationStatus',
      'openVault',
      'plain',
      'runDoctor',
      'verifyAuditChain',
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

  it('gives every error a stable code', () => {
    const codes = [
      new api.ValidationError('f', 'is bad').code,
      new api.NotFoundError('user', 'x').code,
      new api.AuthenticationError().code,
      new api.AccessDeniedError('no').code,
      new api.IntegrityError('bad tag').code,
      new api.ConfigurationError('bad').code,
      new api.MigrationError('locked', 'held').code,
    ]
    expect(codes).to.deep.equal([
      'VALIDATION',
      'NOT_FOUND',
      'AUTHENTICATION',
      'ACCESS_DENIED',
      'INTEGRITY',
      'CONFIGURATION',
      'CONFIGURATION',
    ])
  })
})
