import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { expect } from '../../support/chai.js'
import {
  addSummaries,
  chartStateKey,
  chartStateMac,
  compareSummaries,
  emptySummary,
  rowSummary,
  subtractSummaries,
  summaryOf,
  type ChartRow,
} from '../../../src/crypto/chart-state.js'

const key = chartStateKey(randomBytes(32))
const patient = randomBytes(16)
const iv = () => randomBytes(16)
const row = (table: string, ivs: ChartRow['ivs']): ChartRow => ({
  table,
  rowId: randomBytes(16),
  ivs,
})

describe('chart state (crypto/chart-state.ts)', () => {
  it('derives its key from the audit key with HKDF-SHA256 and its own label', () => {
    const auditKey = randomBytes(32)
    const expected = Buffer.from(
      hkdfSync('sha256', auditKey, Buffer.alloc(0), 'emr-vault/chart-state/v1', 32),
    )
    expect(chartStateKey(auditKey)).to.deep.equal(expected)
  })

  it('computes each element as the module comment writes it (HMAC-SHA256 from node:crypto)', () => {
    const r = row('clinical_records', { title_enc: iv(), body_enc: null, code_enc: iv() })
    const head = Buffer.concat([
      patient,
      Buffer.of(16),
      Buffer.from('clinical_records'),
      r.rowId,
    ])
    const mac = (...parts: Buffer[]) => {
      const h = createHmac('sha256', key)
      for (const p of parts) h.update(p)
      return h.digest()
    }
    const name = (c: string) => Buffer.concat([Buffer.of(c.length), Buffer.from(c)])
    // Non-NULL columns in name order: code_enc, title_enc.
    expect(rowSummary(key, patient, r)).to.deep.equal({
      count: 1,
      rows: mac(Buffer.from('emr-vault/chart/rows/v1'), head),
      fields: mac(
        Buffer.from('emr-vault/chart/fields/v1'),
        head,
        name('code_enc'),
        name('title_enc'),
      ),
      values: mac(
        Buffer.from('emr-vault/chart/values/v1'),
        head,
        name('code_enc'),
        r.ivs['code_enc']!,
        name('title_enc'),
        r.ivs['title_enc']!,
      ),
    })
  })

  it('counts a row with every envelope column NULL as nothing', () => {
    expect(rowSummary(key, patient, row('t', { a: null, b: null }))).to.deep.equal(
      emptySummary(),
    )
  })

  it('is independent of row order, and a removed row takes exactly its elements away', () => {
    const rows = Array.from({ length: 6 }, (_, i) =>
      row(`t${i % 2}`, { a: iv(), b: iv() }),
    )
    const all = summaryOf(key, patient, rows)
    expect(summaryOf(key, patient, [...rows].reverse())).to.deep.equal(all)
    const without = subtractSummaries(all, rowSummary(key, patient, rows[2]!))
    expect(without).to.deep.equal(
      summaryOf(
        key,
        patient,
        rows.filter((_, i) => i !== 2),
      ),
    )
    expect(addSummaries(without, rowSummary(key, patient, rows[2]!))).to.deep.equal(all)
  })

  it('tells each change apart: row gone, row added, rows replaced, field NULLed, value replaced', () => {
    const a = row('t', { x: iv(), y: iv() })
    const b = row('t', { x: iv(), y: null })
    const recorded = summaryOf(key, patient, [a, b])
    const check = (rows: ChartRow[]) =>
      compareSummaries(recorded, summaryOf(key, patient, rows))
    expect(check([a, b])).to.deep.equal([])
    expect(check([a])).to.deep.equal(['row_missing'])
    expect(check([a, b, row('t', { x: iv() })])).to.deep.equal(['row_added'])
    expect(check([a, row('t', { x: iv() })])).to.deep.equal(['row_replaced'])
    expect(check([{ ...a, ivs: { ...a.ivs, y: null } }, b])).to.deep.equal([
      'field_nulled',
    ])
    expect(check([{ ...a, ivs: { ...a.ivs, x: iv() } }, b])).to.deep.equal([
      'value_replaced',
    ])
    // The same row id under another patient or table is another element.
    expect(
      compareSummaries(recorded, summaryOf(key, randomBytes(16), [a, b])),
    ).to.deep.equal(['row_replaced'])
    expect(check([{ ...a, table: 'u' }, b])).to.deep.equal(['row_replaced'])
  })

  it('MACs the state with its patient, count, digests and write counter', () => {
    const s = summaryOf(key, patient, [row('t', { x: iv() })])
    const mac = chartStateMac(key, patient, s, 7)
    expect(mac).to.have.length(32)
    expect(chartStateMac(key, patient, s, 8)).to.not.deep.equal(mac)
    expect(chartStateMac(key, randomBytes(16), s, 7)).to.not.deep.equal(mac)
    expect(chartStateMac(key, patient, { ...s, count: 2 }, 7)).to.not.deep.equal(mac)
    expect(
      chartStateMac(chartStateKey(randomBytes(32)), patient, s, 7),
    ).to.not.deep.equal(mac)
    // A negative count (a chart tampered with, then written) is encoded, not refused.
    expect(chartStateMac(key, patient, { ...s, count: -1 }, 7)).to.have.length(32)
  })
})
