import type { AuditAction } from './audit-checks.js'
import type { AuditEntry } from './audit.service.js'

/**
 * An audit entry as a FHIR R4 AuditEvent (http://hl7.org/fhir/R4/auditevent.html),
 * coded as IHE's Basic Audit Log Patterns code theirs (BALP, profiles.ihe.net/ITI/BALP):
 * a patient's data read, created, updated or deleted is a `rest` event with the
 * RESTful interaction as subtype and the patient as an entity (type 1 Person,
 * role 1 Patient); break-glass is a DICOM Security Alert, Emergency Override
 * Started or Stopped, with purpose of use ETREAT and BTG (HL7 v3 ActReason).
 * The resource is not claimed to conform to a BALP profile (no `meta.profile`):
 * those also ask for network agents (client and server addresses) that an audit
 * row does not record.
 *
 * Every entry maps, losslessly: the emr-vault action is a second subtype coding
 * (system {@link ACTION_SYSTEM}), the seq is the resource id, the detail
 * (documented as free of PHI) the outcome description. Ids are UUIDs, as
 * `urn:uuid:` identifiers.
 */

/** The code system of emr-vault's own action names (AUDIT_ACTIONS). */
export const ACTION_SYSTEM = 'urn:emr-vault:audit-action'

const DCM = 'http://dicom.nema.org/resources/ontology/DCM'
const REST = 'http://hl7.org/fhir/restful-interaction'
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type'
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type'
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role'
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type'
const ROLE_TYPE = 'http://terminology.hl7.org/CodeSystem/extra-security-role-type'
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason'

export interface Coding {
  readonly system: string
  readonly code: string
  readonly display?: string
}

/** The R4 AuditEvent elements this export writes. */
export interface FhirAuditEvent {
  readonly resourceType: 'AuditEvent'
  readonly id: string
  readonly type: Coding
  readonly subtype: Coding[]
  readonly action: 'C' | 'R' | 'U' | 'D' | 'E'
  readonly recorded: string
  readonly outcome: '0' | '4' | '8'
  readonly outcomeDesc?: string
  readonly purposeOfEvent?: { coding: Coding[]; text?: string }[]
  readonly agent: {
    type: { coding: Coding[] }
    who: Reference
    requestor: boolean
    purposeOfUse?: { coding: Coding[] }[]
  }[]
  readonly source: { site?: string; observer: { display: string }; type: Coding[] }
  readonly entity?: { what: Reference; type: Coding; role: Coding }[]
}

interface Reference {
  readonly type?: string
  readonly identifier?: { system: string; value: string }
  readonly display?: string
}

type Mapping = { type: Coding; subtype?: Coding; action: FhirAuditEvent['action'] }

const rest = (code: string, action: FhirAuditEvent['action']): Mapping => ({
  type: { system: EVENT_TYPE, code: 'rest', display: 'Restful Operation' },
  subtype: { system: REST, code, display: code },
  action,
})
const dcm = (code: string, display: string): Coding => ({ system: DCM, code, display })
const SECURITY_ALERT = dcm('110113', 'Security Alert')
const OBJECT_SECURITY = dcm('110135', 'Object Security Attributes Changed')
const USER_SECURITY = dcm('110137', 'User security Attributes Changed')
const security = (subtype: Coding): Mapping => ({
  type: SECURITY_ALERT,
  subtype,
  action: 'E',
})

/** Each action's event type, subtype and action code (PS3.16 CID 400–403 for DCM codes). */
const MAPPINGS: Record<AuditAction, Mapping> = {
  'patient.read': rest('read', 'R'),
  'record.read': rest('read', 'R'),
  'row.read': rest('read', 'R'),
  'row.open': rest('read', 'R'),
  'chart.read': rest('read', 'R'),
  'record.list': rest('search-type', 'E'),
  'row.list': rest('search-type', 'E'),
  search: rest('search-type', 'E'),
  'patient.create': rest('create', 'C'),
  'record.create': rest('create', 'C'),
  'row.create': rest('create', 'C'),
  'patient.update': rest('update', 'U'),
  'record.update': rest('update', 'U'),
  'row.update': rest('update', 'U'),
  'record.delete': rest('delete', 'D'),
  'row.delete': rest('delete', 'D'),
  'break_glass.open': security(dcm('110127', 'Emergency Override Started')),
  'break_glass.expire': security(dcm('110138', 'Emergency Override Stopped')),
  'user.login': {
    type: dcm('110114', 'User Authentication'),
    subtype: dcm('110122', 'Login'),
    action: 'E',
  },
  'user.register': security(USER_SECURITY),
  'user.disable': security(USER_SECURITY),
  'user.enable': security(USER_SECURITY),
  'user.certify': security(USER_SECURITY),
  'password.change': security(USER_SECURITY),
  'kdf.upgrade': security(USER_SECURITY),
  'recovery.regrant': security(USER_SECURITY),
  grant: security(OBJECT_SECURITY),
  revoke: security(OBJECT_SECURITY),
  rotate: security(OBJECT_SECURITY),
  'recovery.restore': security(OBJECT_SECURITY),
  'emergency.setup': security(dcm('110129', 'Security Configuration')),
  'emergency.grant': security(OBJECT_SECURITY),
  'emergency.revoke': security(OBJECT_SECURITY),
  'emergency.rotate': security(OBJECT_SECURITY),
  'access.list': { type: dcm('110112', 'Query'), action: 'E' },
  'audit.verify': { type: dcm('110101', 'Audit Log Used'), action: 'E' },
  'audit.report': { type: dcm('110101', 'Audit Log Used'), action: 'E' },
  'convert.plaintext': { type: dcm('110100', 'Application Activity'), action: 'E' },
  'convert.legacy': { type: dcm('110100', 'Application Activity'), action: 'E' },
  'convert.drop': { type: dcm('110100', 'Application Activity'), action: 'E' },
  'chart.baseline': { type: dcm('110100', 'Application Activity'), action: 'E' },
  'search.reindex': { type: dcm('110100', 'Application Activity'), action: 'E' },
}

const OUTCOMES = { success: '0', denied: '4', failure: '8' } as const

const uuidRef = (id: string, type?: string): Reference => ({
  ...(type ? { type } : {}),
  identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${id}` },
})

const BREAK_GLASS_PURPOSE: Coding[] = [
  { system: ACT_REASON, code: 'ETREAT', display: 'Emergency Treatment' },
  { system: ACT_REASON, code: 'BTG', display: 'break the glass' },
]

/**
 * The AuditEvent of one entry. `site` names the deployment (AuditEvent.source.site);
 * the observer is emr-vault, in the application's process (source type 4,
 * Application Server).
 */
export function toFhirAuditEvent(
  entry: AuditEntry,
  options: { readonly site?: string } = {},
): FhirAuditEvent {
  const m = MAPPINGS[entry.action]
  const breakGlass = entry.action === 'break_glass.open'
  const purpose = breakGlass
    ? [{ coding: BREAK_GLASS_PURPOSE, ...(entry.reason ? { text: entry.reason } : {}) }]
    : undefined
  const entity: NonNullable<FhirAuditEvent['entity']> = []
  if (entry.patientId)
    entity.push({
      what: uuidRef(entry.patientId, 'Patient'),
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    })
  if (entry.targetUserId)
    entity.push({
      what: uuidRef(entry.targetUserId),
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '11', display: 'Security User Entity' },
    })
  return {
    resourceType: 'AuditEvent',
    id: `emr-vault-audit-${entry.seq}`,
    type: m.type,
    subtype: [
      ...(m.subtype ? [m.subtype] : []),
      { system: ACTION_SYSTEM, code: entry.action },
    ],
    action: m.action,
    recorded: entry.occurredAt.toISOString(),
    outcome: OUTCOMES[entry.outcome],
    ...(entry.detail ? { outcomeDesc: entry.detail } : {}),
    ...(purpose ? { purposeOfEvent: purpose } : {}),
    agent: [
      entry.actorUserId
        ? {
            type: {
              coding: [{ system: ROLE_TYPE, code: 'humanuser', display: 'human user' }],
            },
            who: uuidRef(entry.actorUserId),
            requestor: true,
            ...(purpose ? { purposeOfUse: [{ coding: BREAK_GLASS_PURPOSE }] } : {}),
          }
        : {
            // No user: an act of the library itself (an expiry, a failed login
            // of an unknown name). R4 still needs an agent.
            type: {
              coding: [
                { system: ROLE_TYPE, code: 'dataprocessor', display: 'data processor' },
              ],
            },
            who: { display: 'emr-vault' },
            requestor: false,
          },
    ],
    source: {
      ...(options.site ? { site: options.site } : {}),
      observer: { display: 'emr-vault' },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
  }
}
