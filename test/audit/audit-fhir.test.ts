import { randomUUID } from 'node:crypto'
import { AUDIT_ACTIONS, type AuditEntry } from '../../src/services/audit.service.js'
import { ACTION_SYSTEM, toFhirAuditEvent } from '../../src/services/audit-fhir.js'
import { expect } from '../support/chai.js'
import { fhirAuditEventProblems } from '../support/fhir-audit-event.js'

/** An entry of `action` with every optional column set, or none. */
function entry(action: AuditEntry['action'], over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    seq: '42',
    occurredAt: new Date('2026-12-03T10:11:12.345Z'),
    actorUserId: randomUUID(),
    action,
    patientId: randomUUID(),
    targetUserId: null,
    outcome: 'success',
    reason: null,
    detail: null,
    ...over,
  }
}

const problems = (e: AuditEntry) =>
  fhirAuditEventProblems(
    JSON.parse(JSON.stringify(toFhirAuditEvent(e, { site: 'clinic-a' }))) as Record<
      string,
      unknown
    >,
    [ACTION_SYSTEM],
  )

describe('audit export as FHIR R4 AuditEvent (IHE BALP patterns)', () => {
  it('every action, outcome and shape of row makes a valid R4 AuditEvent', () => {
    for (const action of AUDIT_ACTIONS)
      for (const outcome of ['success', 'denied', 'failure'] as const)
        for (const shape of [
          {},
          { actorUserId: null, patientId: null },
          { targetUserId: randomUUID(), reason: 'night cover', detail: 'v2->v3' },
        ]) {
          const e = entry(action, { outcome, ...shape })
          expect(
            problems(e),
            `${action} ${outcome} ${JSON.stringify(shape)}`,
          ).to.deep.equal([])
        }
  })

  it('the checker is not a rubber stamp: it names what is wrong', () => {
    const good = JSON.parse(JSON.stringify(toFhirAuditEvent(entry('patient.read'))))
    const bad = (change: (r: Record<string, unknown>) => void) => {
      const r = structuredClone(good) as Record<string, unknown>
      change(r)
      return fhirAuditEventProblems(r, [ACTION_SYSTEM])
    }
    expect(bad((r) => delete r['source'])).to.include('AuditEvent.source is required')
    expect(bad((r) => (r['action'] = 'X'))).to.include(
      'action X is not an AuditEventAction',
    )
    expect(bad((r) => (r['recorded'] = '2026-12-03'))).to.include(
      'recorded is not an instant',
    )
    expect(bad((r) => (r['agent'] = []))).to.include('agent: 1..* required')
    expect(
      bad((r) => ((r['type'] as Record<string, unknown>)['code'] = 'rust')).join(),
    ).to.match(/rust is not a code/)
    expect(bad((r) => (r['outcome'] = { code: '0' })).join()).to.match(
      /AuditEventOutcome/,
    )
    expect(bad((r) => (r['severity'] = 'low'))).to.include(
      'severity is not an R4 AuditEvent element',
    )
  })

  it('PatientRead, PatientCreate, PatientUpdate: a rest event with its interaction, the patient as entity', () => {
    for (const [action, interaction, code] of [
      ['patient.read', 'read', 'R'],
      ['record.read', 'read', 'R'],
      ['patient.create', 'create', 'C'],
      ['record.create', 'create', 'C'],
      ['patient.update', 'update', 'U'],
      ['record.delete', 'delete', 'D'],
      ['search', 'search-type', 'E'],
    ] as const) {
      const e = entry(action)
      const r = toFhirAuditEvent(e)
      expect(r.type).to.deep.include({ code: 'rest' })
      expect(r.subtype.map((c) => c.code)).to.deep.equal([interaction, action])
      expect(r.action).to.equal(code)
      expect(r.entity).to.deep.equal([
        {
          what: {
            type: 'Patient',
            identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${e.patientId}` },
          },
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '1',
            display: 'Person',
          },
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '1',
            display: 'Patient',
          },
        },
      ])
      expect(r.agent[0]).to.deep.include({
        requestor: true,
        who: {
          identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${e.actorUserId}` },
        },
      })
    }
  })

  it('break-glass: a Security Alert, Emergency Override Started, purpose ETREAT and BTG with the reason', () => {
    const r = toFhirAuditEvent(
      entry('break_glass.open', {
        reason: 'unconscious patient in ED',
        detail: 'for 4h',
      }),
    )
    expect(r.type.code).to.equal('110113')
    expect(r.subtype[0]).to.deep.include({ code: '110127' })
    const purpose = [
      { code: 'ETREAT', display: 'Emergency Treatment' },
      { code: 'BTG', display: 'break the glass' },
    ].map((c) => ({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', ...c }))
    expect(r.purposeOfEvent).to.deep.equal([
      { coding: purpose, text: 'unconscious patient in ED' },
    ])
    expect(r.agent[0]!.purposeOfUse).to.deep.equal([{ coding: purpose }])
    expect(r.outcomeDesc).to.equal('for 4h')
    expect(toFhirAuditEvent(entry('break_glass.expire')).subtype[0]).to.deep.include({
      code: '110138',
    })
  })

  it('outcomes: success 0, denied 4 (minor failure), failure 8 (serious failure); id and time from the row', () => {
    const of = (outcome: AuditEntry['outcome']) =>
      toFhirAuditEvent(entry('grant', { outcome }))
    expect(
      [of('success'), of('denied'), of('failure')].map((r) => r.outcome),
    ).to.deep.equal(['0', '4', '8'])
    expect(of('success')).to.deep.include({
      id: 'emr-vault-audit-42',
      recorded: '2026-12-03T10:11:12.345Z',
    })
  })
})
