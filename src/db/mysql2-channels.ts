import diagnosticsChannel from 'node:diagnostics_channel'

/**
 * mysql2 (≥ 3.20) publishes each statement *with its bound values* on these
 * diagnostics channels (plain and tracing) when anything subscribes, e.g. an APM
 * agent (node_modules/mysql2/lib/base/connection.js).
 */
export const MYSQL2_VALUE_CHANNELS = ['mysql2:query', 'mysql2:execute'] as const
const TRACING_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const

/**
 * The channel objects, looked up once. Asking `diagnosticsChannel.hasSubscribers`
 * by name builds the 12 names and looks each up in Node's channel map: 6 µs per
 * statement in a warm loop (16 µs under `--cpu-prof` of tools/bench/act-cpu.ts),
 * against 0.1 µs for reading `hasSubscribers` off held channels (2026-12-03).
 * A held channel is the object every later `subscribe(name)` or
 * `tracingChannel(name)` gets (Node keeps one channel per name while it is
 * referenced), so it sees the same subscribers. At that cost the check stays
 * before every statement, rather than once per connection checkout: a
 * subscriber attached in the middle of a transaction is refused at its next
 * statement, before that statement's values reach mysql2.
 */
const VALUE_CHANNELS = MYSQL2_VALUE_CHANNELS.flatMap((name) => [
  name,
  ...TRACING_EVENTS.map((event) => `tracing:${name}:${event}`),
]).map((name) => ({ name, channel: diagnosticsChannel.channel(name) }))

/** The value-carrying channel names that have a subscriber in this process now. */
export function subscribedValueChannels(): string[] {
  const listening: string[] = []
  for (const { name, channel } of VALUE_CHANNELS) {
    if (channel.hasSubscribers) listening.push(name)
  }
  return listening
}
