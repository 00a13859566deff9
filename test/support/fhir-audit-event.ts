import { readVectorJson } from './vectors.js'

/**
 * A structural check of a FHIR R4 AuditEvent against the elements, cardinalities
 * and code systems transcribed in test/vectors/fhir/r4-audit-event.json: what a
 * FHIR server's validator would refuse first. Returns the problems found (none
 * for a valid resource), each naming the element.
 */

interface Spec {
  readonly required: Record<string, string[]>
  readonly action: string[]
  readonly outcome: string[]
  readonly codes: Record<string, string[] | Record<string, string>>
}

const SPEC = readVectorJson<Spec>('fhir/r4-audit-event.json')

/** R4 AuditEvent's elements (auditevent-definitions.html); anything else is unknown. */
const ELEMENTS = new Set([
  'resourceType',
  'id',
  'meta',
  'implicitRules',
  'language',
  'text',
  'contained',
  'extension',
  'modifierExtension',
  'type',
  'subtype',
  'action',
  'period',
  'recorded',
  'outcome',
  'outcomeDesc',
  'purposeOfEvent',
  'agent',
  'source',
  'entity',
])

/** FHIR `id`: 1 to 64 of A–Z, a–z, 0–9, '-', '.' (R4 datatypes.html#id). */
const ID = /^[A-Za-z0-9\-.]{1,64}$/
/** FHIR `instant`: a full time with seconds and a zone (R4 datatypes.html#instant). */
const INSTANT =
  /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$/

type Json = Record<string, unknown>

export function fhirAuditEventProblems(
  resource: Json,
  localSystems: readonly string[] = [],
): string[] {
  const problems: string[] = []
  const coding = (where: string, c: unknown) => {
    const { system, code, display } = (c ?? {}) as Json
    if (typeof system !== 'string' || typeof code !== 'string') {
      problems.push(`${where}: a Coding needs a system and a code`)
      return
    }
    if (localSystems.includes(system)) return
    const known = SPEC.codes[system]
    if (!known) return void problems.push(`${where}: unknown code system ${system}`)
    const codes = Array.isArray(known) ? known : Object.keys(known)
    if (!codes.includes(code))
      problems.push(`${where}: ${code} is not a code of ${system}`)
    else if (!Array.isArray(known) && display !== undefined && display !== known[code])
      problems.push(`${where}: display of ${system}#${code} is "${known[code]}"`)
  }
  const concept = (where: string, cc: unknown) => {
    const codings = (cc as Json | undefined)?.['coding']
    if (!Array.isArray(codings) || codings.length === 0)
      return void problems.push(`${where}: a CodeableConcept needs a coding`)
    codings.forEach((c, i) => coding(`${where}.coding[${i}]`, c))
  }
  const reference = (where: string, r: unknown) => {
    const ref = r as Json | undefined
    if (!ref || !(ref['reference'] || ref['identifier'] || ref['display']))
      problems.push(`${where}: a Reference needs a reference, identifier or display`)
  }
  const required = (where: string, o: Json, path: string) => {
    for (const name of SPEC.required[path] ?? [])
      if (o[name] === undefined) problems.push(`${where}.${name} is required`)
  }

  if (resource['resourceType'] !== 'AuditEvent') problems.push('resourceType')
  for (const key of Object.keys(resource))
    if (!ELEMENTS.has(key)) problems.push(`${key} is not an R4 AuditEvent element`)
  required('AuditEvent', resource, 'AuditEvent')
  if (resource['id'] !== undefined && !ID.test(String(resource['id'])))
    problems.push('id is not a FHIR id')
  coding('type', resource['type'])
  const subtype = resource['subtype']
  if (subtype !== undefined)
    if (!Array.isArray(subtype)) problems.push('subtype must be a list')
    else subtype.forEach((c, i) => coding(`subtype[${i}]`, c))
  if (
    resource['action'] !== undefined &&
    !SPEC.action.includes(String(resource['action']))
  )
    problems.push(`action ${String(resource['action'])} is not an AuditEventAction`)
  if (typeof resource['recorded'] !== 'string' || !INSTANT.test(resource['recorded']))
    problems.push('recorded is not an instant')
  if (
    resource['outcome'] !== undefined &&
    !SPEC.outcome.includes(String(resource['outcome']))
  )
    problems.push(`outcome ${String(resource['outcome'])} is not an AuditEventOutcome`)
  for (const [i, p] of ((resource['purposeOfEvent'] as unknown[]) ?? []).entries())
    concept(`purposeOfEvent[${i}]`, p)
  const agents = resource['agent']
  if (!Array.isArray(agents) || agents.length === 0) problems.push('agent: 1..* required')
  else
    agents.forEach((a: Json, i) => {
      required(`agent[${i}]`, a, 'AuditEvent.agent')
      if (typeof a['requestor'] !== 'boolean')
        problems.push(`agent[${i}].requestor must be a boolean`)
      if (a['type'] !== undefined) concept(`agent[${i}].type`, a['type'])
      if (a['who'] !== undefined) reference(`agent[${i}].who`, a['who'])
      for (const [j, p] of ((a['purposeOfUse'] as unknown[]) ?? []).entries())
        concept(`agent[${i}].purposeOfUse[${j}]`, p)
    })
  const source = resource['source'] as Json | undefined
  if (source) {
    required('source', source, 'AuditEvent.source')
    reference('source.observer', source['observer'])
    for (const [i, t] of ((source['type'] as unknown[]) ?? []).entries())
      coding(`source.type[${i}]`, t)
  }
  for (const [i, e] of ((resource['entity'] as Json[]) ?? []).entries()) {
    if (e['what'] !== undefined) reference(`entity[${i}].what`, e['what'])
    if (e['type'] !== undefined) coding(`entity[${i}].type`, e['type'])
    if (e['role'] !== undefined) coding(`entity[${i}].role`, e['role'])
  }
  return problems
}
