// The SQL each declared column gets, without a server: sizes at the VARBINARY and
// BLOB boundaries, the envelope CHECK against envelopeLength, constraint names.
import { expect } from 'chai'
import { ENVELOPE_MIN_BYTES, envelopeLength } from '../../../src/crypto/envelope.js'
import {
  ddlName,
  envelopeCheckSql,
  envelopeColumnType,
  tableColumnsDdl,
  VARBINARY_MAX_PLAINTEXT_BYTES,
} from '../../../src/schema/column-ddl.js'
import { defineTable } from '../../../src/schema/define-table.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import { plain } from '../../../src/schema/plain-columns.js'

describe('column DDL', () => {
  it('sizes an envelope column: VARBINARY of the exact envelope up to 4,096 bytes, then the smallest BLOB', () => {
    expect(VARBINARY_MAX_PLAINTEXT_BYTES).to.equal(4096)
    expect(envelopeColumnType(0)).to.equal('varbinary(69)')
    expect(envelopeColumnType(1024)).to.equal('varbinary(1093)') // the chart's columns
    expect(envelopeColumnType(4096)).to.equal('varbinary(4165)')
    expect(envelopeColumnType(4097)).to.equal('blob')
    // BLOB holds 65,535 bytes: 65,466 of plaintext make 65,525, 65,482 make 65,541.
    expect(envelopeColumnType(65_466)).to.equal('blob')
    expect(envelopeColumnType(65_482)).to.equal('mediumblob')
    expect(envelopeColumnType(16 * 1024 * 1024 - 1024)).to.equal('mediumblob')
    expect(envelopeColumnType(16 * 1024 * 1024)).to.equal('longblob')
    expect(() => envelopeColumnType(-1, 'encrypted.a')).to.throw(/"encrypted.a"/)
  })

  it('the envelope CHECK accepts exactly the lengths envelopeLength gives', () => {
    // The predicate's arithmetic in JavaScript: >= 69 and (length - 53) % 16 = 0.
    const accepted = (n: number) => n >= ENVELOPE_MIN_BYTES && (n - 53) % 16 === 0
    const lengths = new Set(Array.from({ length: 300 }, (_, n) => envelopeLength(n)))
    for (let n = 0; n <= envelopeLength(299); n++) {
      expect(accepted(n), `length ${n}`).to.equal(lengths.has(n))
    }
    expect(envelopeCheckSql('drug_enc')).to.equal(
      '`drug_enc` IS NULL OR (LENGTH(`drug_enc`) >= 69 AND (LENGTH(`drug_enc`) - 53) % 16 = 0 ' +
        'AND LEFT(`drug_enc`, 1) = 0x01)',
    )
    expect(() => envelopeCheckSql('x`; DROP TABLE patients')).to.throw(/identifier/)
  })

  it('names constraints <table>_<column>_<kind>, cut with a hash past 64 characters', () => {
    expect(ddlName('medications', 'drug_enc', 'env')).to.equal('medications_drug_enc_env')
    const long = ddlName('t'.repeat(64), 'c'.repeat(64), 'env')
    expect(long).to.have.length(64)
    expect(long).to.match(/^t{55}_[0-9a-f]{8}$/)
    expect(ddlName('t'.repeat(64), 'd'.repeat(64), 'env')).not.to.equal(long)
  })

  it('gives plain columns their types, text and enums utf8mb4_bin, enums a CHECK IN', () => {
    const decl = defineTable({
      name: 'meds',
      patientColumn: 'person_id',
      encrypted: { drug: encrypted.text({ maxBytes: 200, nullable: true }) },
      plain: {
        status: plain.enum(['active', 'stopped', 'ça va']),
        code: plain.text({ maxLength: 20 }),
        n: plain.integer({ nullable: true }),
        ok: plain.boolean(),
        at: plain.dateTime(),
        ref: plain.rowId(),
      },
    })
    expect(
      tableColumnsDdl(decl).map((c) => [c.column, c.type, c.nullable, c.collation ?? '']),
    ).to.deep.equal([
      ['id', 'binary(16)', false, ''],
      ['person_id', 'binary(16)', false, ''],
      ['created_at', 'datetime(3)', false, ''],
      ['updated_at', 'datetime(3)', false, ''],
      ['drug_enc', 'varbinary(261)', true, ''],
      ['status', 'varchar(7)', false, 'utf8mb4_bin'],
      ['code', 'varchar(20)', false, 'utf8mb4_bin'],
      ['n', 'bigint', true, ''],
      ['ok', 'tinyint(1)', false, ''],
      ['at', 'datetime(3)', false, ''],
      ['ref', 'binary(16)', false, ''],
    ])
    expect(tableColumnsDdl(decl)[5]!.checks).to.deep.equal([
      { name: 'meds_status_in', sql: "`status` IN ('active', 'stopped', 'ça va')" },
    ])
  })
})
