import { randomBytes } from 'node:crypto'
import diagnosticsChannel from 'node:diagnostics_channel'
import { expect } from 'chai'
import { runDoctor } from '../../src/services/doctor.service.js'
import { observerConnection, testDb } from '../support/test-env.js'
import { check } from './doctor-support.js'

/** A full set of TracingChannel subscribers (the types want all five); only `start` acts. */
function subscribers(start: (context: object) => void = () => {}) {
  const none = () => {}
  return { start, end: none, asyncStart: none, asyncEnd: none, error: none }
}

describe('doctor: mysql2 diagnostics channels in this process', () => {
  const channelCheck = async () =>
    check(await runDoctor(testDb(), { production: false }), 'diagnostics_channels')

  it('FAILs a plain subscriber on mysql2:execute, and PASSes again once it unsubscribes', async () => {
    const listener = () => {}
    diagnosticsChannel.subscribe('mysql2:execute', listener)
    try {
      const line = await channelCheck()
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.match(/^This process has subscribers on mysql2:execute:/)
    } finally {
      diagnosticsChannel.unsubscribe('mysql2:execute', listener)
    }
    expect((await channelCheck()).status).to.equal('PASS')
  })

  it('FAILs a tracing subscriber (what an APM agent uses), which does receive bound values', async () => {
    // mysql2 3.24 publishes through tracingChannel('mysql2:execute'): its
    // start event carries the statement's values. Shown here with a marker.
    const received: unknown[] = []
    const handlers = subscribers((context) => {
      received.push(...((context as { values?: unknown[] }).values ?? []))
    })
    const tracing = diagnosticsChannel.tracingChannel('mysql2:execute')
    tracing.subscribe(handlers)
    const marker = randomBytes(16).toString('hex')
    try {
      const conn = await observerConnection()
      try {
        await conn.execute('SELECT ? AS m', [marker])
      } finally {
        await conn.end()
      }
      expect(received).to.include(marker)
      const line = await channelCheck()
      expect(line.status).to.equal('FAIL')
      expect(line.detail).to.include('tracing:mysql2:execute:start')
      expect(line.detail).not.to.include(marker)
    } finally {
      tracing.unsubscribe(handlers)
    }
    expect((await channelCheck()).status).to.equal('PASS')
  })

  it('mentions, without failing, a subscriber on the connect channels (no statement values there)', async () => {
    const tracing = diagnosticsChannel.tracingChannel('mysql2:pool:connect')
    const handlers = subscribers()
    tracing.subscribe(handlers)
    try {
      const line = await channelCheck()
      expect(line.status).to.equal('PASS')
      expect(line.detail).to.match(
        /Subscribed without statement values: tracing:mysql2:pool:connect:start/,
      )
    } finally {
      tracing.unsubscribe(handlers)
    }
  })
})
