import type { BenchDatabase } from './database.js'
import type { ScenarioResult } from './harness.js'
import type { BenchOptions } from './options.js'

/** What each scenario gets from the runner. */
export interface ScenarioContext {
  readonly opts: BenchOptions
  readonly bench: BenchDatabase
  readonly log: (line: string) => void
}

export type Scenario = (ctx: ScenarioContext) => Promise<ScenarioResult>
