import { fmt, type ScenarioResult } from './harness.js'
import type { TargetResult } from './targets.js'

/** Everything a run produced: what bench-results/*.json holds. */
export interface BenchReport {
  readonly meta: {
    readonly startedAt: string
    readonly seconds: number
    readonly quick: boolean
    readonly options: Record<string, unknown>
    readonly machine: {
      readonly cpus: number
      readonly cpuModel: string
      readonly memoryGiB: number
      readonly loadAverageStart: number[]
      readonly loadAverageEnd: number[]
    }
    readonly node: string
    readonly server: string
    readonly commit: string
    readonly kdf: string
    readonly method: string
  }
  readonly scenarios: ScenarioResult[]
  readonly targets: TargetResult[]
}

export const METHOD =
  'Every comparison runs its variants interleaved in this process, round after round, the order rotating each round. ' +
  'median and min–max are over rounds; ratio is the median of the per-round ratios to the baseline of the same round.'

function pad(text: string, width: number, right = false): string {
  if (text.length >= width) return text
  return right ? text.padStart(width) : text.padEnd(width)
}

/** The table printed at the end of a run (and pasted into docs/performance.md). */
export function formatTable(report: BenchReport): string {
  const lines: string[] = []
  const m = report.meta
  lines.push(
    `emr-vault bench — ${m.startedAt}${m.quick ? ' (quick)' : ''}, ${fmt(m.seconds)} s`,
    `${m.machine.cpus} × ${m.machine.cpuModel}, ${fmt(m.machine.memoryGiB)} GiB; Node ${m.node}; server ${m.server}; ` +
      `load average ${m.machine.loadAverageStart.map((x) => x.toFixed(2)).join('/')} at start, ` +
      `${m.machine.loadAverageEnd.map((x) => x.toFixed(2)).join('/')} at end`,
    m.kdf,
    m.method,
  )
  const labelWidth = Math.max(
    40,
    ...report.scenarios.flatMap((s) =>
      s.comparisons.flatMap((c) => c.variants.map((v) => v.label.length)),
    ),
  )
  for (const s of report.scenarios) {
    lines.push('', `## ${s.title}  [${s.kdf}; ${fmt(s.seconds)} s]`)
    for (const c of s.comparisons) {
      lines.push(
        '',
        `  ${c.title}`,
        `    ${pad('variant', labelWidth)}  ${pad(`median ${c.unit}`, 18, true)}  ${pad('min–max', 19, true)}  ${pad('ratio', 8, true)}`,
      )
      for (const v of c.variants) {
        lines.push(
          `    ${pad(v.label, labelWidth)}  ${pad(fmt(v.median), 18, true)}  ${pad(`${fmt(v.min)}–${fmt(v.max)}`, 19, true)}  ${pad(`${fmt(v.ratio)}×`, 8, true)}`,
        )
      }
      for (const note of c.notes) lines.push(`    · ${note}`)
    }
    for (const note of s.notes) lines.push(`  · ${note}`)
  }
  if (report.targets.length > 0) {
    lines.push('', '## Targets')
    for (const t of report.targets) {
      lines.push(
        `  ${t.met ? 'MET    ' : 'NOT MET'}  ${t.target}: ${fmt(t.value)} ${t.unit}${t.note ? ` (${t.note})` : ''}`,
      )
    }
  }
  return lines.join('\n')
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

function colour(id: string): string {
  if (id.startsWith('seed')) return '#c0392b'
  if (id.startsWith('app')) return '#e67e22'
  if (id === 'plaintext' || id === 'slower') return '#7f8c8d'
  if (['bcrypt', 'scrypt', 'both', 'unwrap', 'db'].includes(id)) return '#95a5a6'
  return '#2471a3'
}

/**
 * The ratios as a horizontal bar chart, one group per comparison, on a log
 * scale centred on 1× (the baseline), written as plain SVG text.
 */
export function renderSvg(report: BenchReport): string {
  const width = 1100
  const labelX = 20
  const axisLeft = 560
  const axisRight = width - 90
  const row = 18
  const minLog = -3 // 0.001×
  const maxLog = 2 // 100×
  const x = (ratio: number) => {
    const l = Math.min(maxLog, Math.max(minLog, Math.log10(Math.max(ratio, 1e-9))))
    return axisLeft + ((l - minLog) / (maxLog - minLog)) * (axisRight - axisLeft)
  }
  const body: string[] = []
  let y = 100
  for (const s of report.scenarios) {
    body.push(
      `<text x="${labelX}" y="${y}" font-weight="bold" font-size="13">${escapeXml(s.title)}</text>`,
    )
    y += row
    for (const c of s.comparisons) {
      body.push(
        `<text x="${labelX + 10}" y="${y}" font-style="italic" font-size="11">${escapeXml(`${c.title} (${c.unit})`)}</text>`,
      )
      y += row
      for (const v of c.variants) {
        const x0 = x(1)
        const x1 = x(v.ratio)
        const left = Math.min(x0, x1)
        const w = Math.max(1, Math.abs(x1 - x0))
        body.push(
          `<text x="${labelX + 20}" y="${y + 4}" font-size="11">${escapeXml(v.label)}</text>`,
          `<rect x="${left.toFixed(1)}" y="${y - 7}" width="${w.toFixed(1)}" height="12" fill="${colour(v.id)}"><title>${escapeXml(`${v.label}: median ${fmt(v.median)} ${c.unit}, ${fmt(v.ratio)}×`)}</title></rect>`,
          `<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + 4}" font-size="10">${escapeXml(`${fmt(v.ratio)}×  (${fmt(v.median)})`)}</text>`,
        )
        y += row
      }
      y += 4
    }
    y += 8
  }
  const axisBottom = y
  if (report.targets.length > 0) {
    y += 10
    body.push(
      `<text x="${labelX}" y="${y}" font-weight="bold" font-size="13">Targets</text>`,
    )
    y += row
    for (const t of report.targets) {
      body.push(
        `<text x="${labelX + 10}" y="${y}" font-size="11"><tspan font-weight="bold" fill="${t.met ? '#1e8449' : '#c0392b'}">${t.met ? 'MET' : 'NOT MET'}</tspan>  ${escapeXml(`${t.target}: ${fmt(t.value)} ${t.unit}${t.note ? ` (${t.note})` : ''}`)}</text>`,
      )
      y += row
    }
  }
  const ticks = [0.001, 0.01, 0.1, 1, 10, 100].map((t) => {
    const tx = x(t).toFixed(1)
    return (
      `<line x1="${tx}" y1="78" x2="${tx}" y2="${axisBottom}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>` +
      `<text x="${tx}" y="74" font-size="10" text-anchor="middle">${t}×</text>`
    )
  })
  const legend = [
    ['#7f8c8d', 'plaintext baseline'],
    ['#e67e22', 'application-side AES-256-GCM'],
    ['#c0392b', 'seed answer’s method'],
    ['#2471a3', 'emr-vault'],
    ['#95a5a6', 'parts of a login'],
  ].map(([fill, text], i) => {
    const lx = labelX + i * 200
    return (
      `<rect x="${lx}" y="46" width="10" height="10" fill="${fill}"/>` +
      `<text x="${lx + 14}" y="55" font-size="11">${escapeXml(text!)}</text>`
    )
  })
  const height = y + 20
  const m = report.meta
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${labelX}" y="22" font-size="15" font-weight="bold">${escapeXml(`emr-vault bench: ratio to each comparison's baseline (log scale; left of 1× is faster)`)}</text>`,
    `<text x="${labelX}" y="38" font-size="10">${escapeXml(`${m.startedAt}${m.quick ? ' quick' : ''} · ${m.machine.cpus} × ${m.machine.cpuModel} · ${m.server} · bar label: ratio (median in the comparison's unit) · TEST_KDF_POLICY except login (KDF_POLICY)`)}</text>`,
    ...legend,
    ...ticks,
    ...body,
    `</svg>`,
    '',
  ].join('\n')
}

/** JSON with bigints and Buffers made printable (there should be none, but never throw). */
export function toJson(report: BenchReport): string {
  return `${JSON.stringify(
    report,
    (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
    2,
  )}\n`
}
