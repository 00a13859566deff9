import { expect } from '../../support/chai.js'
import { defineTable } from '../../../src/schema/define-table.js'
import { encrypted } from '../../../src/schema/encrypted-columns.js'
import { encodeRow } from '../../../src/schema/row-codec.js'

describe('encodeRow with fields named like Object.prototype members', () => {
  it('a field named toString or constructor that converts from nothing writes no plaintext column', () => {
    const t = defineTable({
      name: 'proto_fields',
      encrypted: {
        toString: encrypted.text({ maxBytes: 10 }),
        constructor: encrypted.text({ maxBytes: 10 }),
      },
    })
    const { plain, encrypted: sealed } = encodeRow(
      t,
      { toString: 'a', constructor: 'b' },
      false,
    )
    // Before: convertingFrom.toString was Object.prototype's, so a column named
    // after the function's source text was set to NULL in the statement.
    expect(Object.keys(plain)).to.deep.equal([])
    expect(Object.keys(sealed).sort()).to.deep.equal(['constructor_enc', 'to_string_enc'])
  })
})
