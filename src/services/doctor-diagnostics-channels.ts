import diagnosticsChannel from 'node:diagnostics_channel'
import { line, type PostureCheck } from './doctor-check.js'

/**
 * Subscribers in this process on mysql2's diagnostics channels. mysql2 3.24
 * (lib/tracing.js) publishes through `diagnostics_channel.tracingChannel(name)`
 * for four names; a TracingChannel is five plain channels
 * `tracing:<name>:{start,end,asyncStart,asyncEnd,error}`, which is what an APM
 * agent subscribes to (so `hasSubscribers('mysql2:query')` alone would miss it).
 *
 * - `mysql2:query`, `mysql2:execute`: the context carries the SQL and its
 *   `values`, so a subscriber receives every bound key: FAIL.
 * - `mysql2:connect`, `mysql2:pool:connect`: address, port and database only,
 *   no statement or password: mentioned, not failed.
 * Plain channels under the bare names are checked too (FAIL for query/execute):
 * nothing in mysql2 3.24 publishes there, but a subscriber on them is an agent
 * waiting for statements, and another mysql2 version may publish there.
 */

const WITH_VALUES = ['mysql2:query', 'mysql2:execute'] as const
const WITHOUT_VALUES = ['mysql2:connect', 'mysql2:pool:connect'] as const
const TRACING_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const

/** Channel names of `name` that have a subscriber now. */
function subscribed(name: string): string[] {
  return [name, ...TRACING_EVENTS.map((event) => `tracing:${name}:${event}`)].filter(
    (channel) => diagnosticsChannel.hasSubscribers(channel),
  )
}

export function diagnosticsChannelsCheck(): PostureCheck {
  const check = line(
    'diagnostics_channels',
    "No subscriber on mysql2's statement channels",
  )
  const leaking = WITH_VALUES.flatMap(subscribed)
  const other = WITHOUT_VALUES.flatMap(subscribed)
  const otherNote =
    other.length > 0 ? ` Subscribed without statement values: ${other.join(', ')}.` : ''
  if (leaking.length > 0) {
    return check.fail(
      `This process has subscribers on ${leaking.join(', ')}: they receive each ` +
        `statement with its bound values, keys included (an APM or tracing agent).${otherNote}`,
      'Exclude mysql2 from the instrumentation of the agent (or disable its database ' +
        'query capture) in the process that runs emr-vault.',
    )
  }
  return check.pass(`No subscriber on mysql2:query or mysql2:execute.${otherNote}`)
}
