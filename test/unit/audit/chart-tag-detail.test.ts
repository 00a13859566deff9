import { expect } from 'chai'
import {
  AUDIT_DETAIL_MAX_CHARS,
  checkDetail,
} from '../../../src/services/audit-checks.js'
import { withChartTag } from '../../../src/services/audit.service.js'
import { parseChartTag } from '../../../src/services/chart-tags.js'

/**
 * The chart tag ends an audit row's detail (chart-tags.ts). A conversion's detail
 * names a table and a field of up to 64 characters each, and with the tag went
 * past the 200 characters of the column: the write would have failed.
 */
describe('audit detail with a chart tag', () => {
  const tag = `chart 4294967295:${'ab'.repeat(16)}`

  it('appends the tag after a short detail, and is the tag alone without one', () => {
    expect(withChartTag('clinical_records 1', tag)).to.equal(`clinical_records 1 ${tag}`)
    expect(withChartTag(null, tag)).to.equal(tag)
    expect(withChartTag(undefined, tag)).to.equal(tag)
  })

  it('cuts a detail too long for both, so the tag still ends it and the whole fits', () => {
    const long = `table=${'t'.repeat(64)} field=${'f'.repeat(63)} rows=123456 cleared=123456`
    const detail = withChartTag(long, tag)
    expect(detail.length).to.equal(AUDIT_DETAIL_MAX_CHARS)
    expect(checkDetail(detail)).to.equal(detail)
    expect(detail.startsWith(long.slice(0, 100))).to.equal(true)
    expect(detail).to.include(`... ${tag}`)
    const parsed = parseChartTag(detail)
    expect(parsed?.writeSeq).to.equal(4294967295)
    expect(parsed?.macPrefix.toString('hex')).to.equal('ab'.repeat(16))
  })

  it('keeps a detail that just fits whole', () => {
    const exact = 'x'.repeat(AUDIT_DETAIL_MAX_CHARS - tag.length - 1)
    expect(withChartTag(exact, tag)).to.equal(`${exact} ${tag}`)
  })
})
