import diagnosticsChannel from 'node:diagnostics_channel'

/**
 * mysql2 (≥ 3.20) publishes each statement *with its bound values* on these
 * diagnostics channels (plain and tracing) when anything subscribes, e.g. an APM
 * agent (node_modules/mysql2/lib/base/connection.js).
 */
export const MYSQL2_VALUE_CHANNELS = ['mysql2:query', 'mysql2:execute'] as const
const TRACING_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const

/** The value-carrying channel names that have a subscriber in this process now. */
export function subscribedValueChannels(): string[] {
  return MYSQL2_VALUE_CHANNELS.flatMap((name) =>
    [name, ...TRACING_EVENTS.map((event) => `tracing:${name}:${event}`)].filter(
      (channel) => diagnosticsChannel.hasSubscribers(channel),
    ),
  )
}
