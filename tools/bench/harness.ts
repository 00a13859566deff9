import { performance } from 'node:perf_hooks'
import { observeStatements } from '../../src/sql/prepared.js'

/**
 * Interleaved measurement. Every variant of a comparison runs once per round, in
 * the same process, one after the other, and the order rotates from round to
 * round, so slow drift of a shared machine (another engineer's test run starting)
 * lands on all variants alike. Ratios are taken per round (variant / baseline of
 * the same round) and then their median: that is the number to quote.
 */

export interface Variant {
  readonly id: string
  readonly label: string
  /**
   * Does one round's work and returns its measured time in ms (the variant times
   * itself, so per-round setup can stay outside the measurement: see {@link timed}).
   */
  run(round: number): Promise<number>
}

export interface VariantResult {
  readonly id: string
  readonly label: string
  /** One value per round, in the comparison's unit. */
  readonly samples: number[]
  readonly median: number
  readonly min: number
  readonly max: number
  /** Median of the per-round ratios to the baseline (1 for the baseline itself). */
  readonly ratio: number
  readonly ratioSamples: number[]
}

export interface Comparison {
  readonly id: string
  readonly title: string
  /** Unit of the samples, e.g. `ms/record`. */
  readonly unit: string
  readonly baseline: string
  readonly variants: VariantResult[]
  /** Facts worth printing under the comparison (sizes, storage, caveats). */
  readonly notes: string[]
}

export interface ScenarioResult {
  readonly id: string
  readonly title: string
  readonly kdf: 'TEST_KDF_POLICY' | 'KDF_POLICY'
  readonly comparisons: Comparison[]
  readonly notes: string[]
  readonly seconds: number
}

/** Measures `work` in ms. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await work()
  return performance.now() - start
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Runs the variants interleaved for `rounds` rounds (after `warmup` unmeasured
 * rounds) and returns each variant's samples divided by `units` (the amount of
 * work in one round: records, reads, grants…).
 */
export async function interleave(options: {
  readonly variants: readonly Variant[]
  readonly rounds: number
  readonly warmup?: number
  readonly units: number | ((variantId: string) => number)
  readonly log?: (line: string) => void
}): Promise<Map<string, number[]>> {
  const { variants, rounds } = options
  const warmup = options.warmup ?? 0
  const samples = new Map<string, number[]>(variants.map((v) => [v.id, []]))
  const units = (id: string) =>
    typeof options.units === 'function' ? options.units(id) : options.units
  for (let round = 0; round < warmup + rounds; round++) {
    const measured = round >= warmup
    const shift = round % variants.length
    const order = [...variants.slice(shift), ...variants.slice(0, shift)]
    for (const variant of order) {
      const ms = await variant.run(round)
      if (measured) samples.get(variant.id)!.push(ms / units(variant.id))
    }
    options.log?.(
      measured
        ? `round ${round - warmup + 1}/${rounds}: ` +
            variants.map((v) => `${v.id} ${fmt(samples.get(v.id)!.at(-1)!)}`).join(', ')
        : `warm-up round ${round + 1}/${warmup}`,
    )
  }
  return samples
}

/** A variant measured one small step at a time (one INSERT, one chart read, one grant). */
export interface SteppedVariant {
  readonly id: string
  readonly label: string
  /** Unmeasured set-up of a round (e.g. making its sample records). */
  prepare?(round: number): void | Promise<void>
  /** Step `i` of `round`; only this is timed. */
  step(round: number, i: number): Promise<unknown>
}

/**
 * Like {@link interleave}, but interleaved step by step: within a round the
 * variants take turns for every step (order rotating per step), so even drift
 * within a round — a neighbour's fsync storm, a GC — is shared. Used where one
 * step is milliseconds and the machine's noise is of the same order. Each
 * sample is the round's summed step time divided by `units`.
 */
export async function interleaveSteps(options: {
  readonly variants: readonly SteppedVariant[]
  readonly rounds: number
  readonly warmup?: number
  readonly steps: (round: number) => number
  readonly units: (round: number) => number
  readonly log?: (line: string) => void
  /** Told every measured step's own time in ms (for per-operation percentiles). */
  readonly onStep?: (variantId: string, ms: number) => void
}): Promise<Map<string, number[]>> {
  const { variants, rounds } = options
  const warmup = options.warmup ?? 0
  const samples = new Map<string, number[]>(variants.map((v) => [v.id, []]))
  for (let round = 0; round < warmup + rounds; round++) {
    for (const v of variants) await v.prepare?.(round)
    const total = new Map<string, number>(variants.map((v) => [v.id, 0]))
    const steps = options.steps(round)
    for (let i = 0; i < steps; i++) {
      const shift = (round + i) % variants.length
      for (const v of [...variants.slice(shift), ...variants.slice(0, shift)]) {
        const start = performance.now()
        await v.step(round, i)
        const ms = performance.now() - start
        total.set(v.id, total.get(v.id)! + ms)
        if (round >= warmup) options.onStep?.(v.id, ms)
      }
    }
    if (round < warmup) {
      options.log?.(`warm-up round ${round + 1}/${warmup}`)
      continue
    }
    for (const v of variants)
      samples.get(v.id)!.push(total.get(v.id)! / options.units(round))
    options.log?.(
      `round ${round - warmup + 1}/${rounds}: ` +
        variants.map((v) => `${v.id} ${fmt(samples.get(v.id)!.at(-1)!)}`).join(', '),
    )
  }
  return samples
}

/** The `p`-th percentile (0–100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** Summarises per-round samples against the baseline's samples of the same rounds. */
export function compare(options: {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly baseline: string
  readonly variants: readonly { id: string; label: string }[]
  readonly samples: Map<string, number[]>
  readonly notes?: string[]
}): Comparison {
  const base = options.samples.get(options.baseline)
  if (!base) throw new Error(`no samples for baseline ${options.baseline}`)
  const variants = options.variants.map(({ id, label }) => {
    const s = options.samples.get(id)
    if (!s || s.length !== base.length) throw new Error(`samples of ${id} do not pair up`)
    const ratioSamples = s.map((v, i) => v / base[i]!)
    return {
      id,
      label,
      samples: s,
      median: median(s),
      min: Math.min(...s),
      max: Math.max(...s),
      ratio: median(ratioSamples),
      ratioSamples,
    }
  })
  return {
    id: options.id,
    title: options.title,
    unit: options.unit,
    baseline: options.baseline,
    variants,
    notes: options.notes ?? [],
  }
}

/** Three significant digits, without exponent notation for everyday magnitudes. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString('en-GB')
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  if (abs >= 0.01) return value.toFixed(3)
  return value.toPrecision(2)
}

/** Splits `total` into `parts` near-equal chunk sizes (every round does a share). */
export function shares(total: number, parts: number): number[] {
  const base = Math.floor(total / parts)
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0))
}

/**
 * Where a run's time goes, by statement: the time from each statement's start to
 * the next one's (the statement, then the work in Node it feeds, such as an HPKE
 * seal), summed per operation name. Uses the prepared-statement path's observer
 * seam (it sees operation names only). Unmeasured: the observer adds a little.
 */
export async function profileStatements(
  work: () => Promise<unknown>,
): Promise<{ op: string; ms: number; count: number }[]> {
  const totals = new Map<string, { ms: number; count: number }>()
  let last = performance.now()
  let lastOp = '(start)'
  const close = () => {
    const now = performance.now()
    const t = totals.get(lastOp) ?? { ms: 0, count: 0 }
    totals.set(lastOp, { ms: t.ms + now - last, count: t.count + 1 })
    last = now
  }
  observeStatements((event) => {
    close()
    lastOp = event.operation
  })
  try {
    await work()
    close()
  } finally {
    observeStatements(undefined)
  }
  return [...totals].map(([op, t]) => ({ op, ...t })).sort((a, b) => b.ms - a.ms)
}

/** What `call` sends to the server, counted once through the statement seam. */
export async function statementsOf(call: () => Promise<unknown>): Promise<string> {
  const seen: string[] = []
  observeStatements((e) => {
    seen.push(e.operation)
  })
  try {
    await call()
  } finally {
    observeStatements(undefined)
  }
  return `${seen.length} statements (${seen.join(', ')}) + BEGIN/COMMIT`
}
