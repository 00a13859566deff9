import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Knex } from 'knex'
import { ConfigurationError } from '../../errors/index.js'
import type { AuditEntry, AuditReportFilters } from '../../services/audit.service.js'
import type { AuditHeadState } from '../../services/audit-verify.js'
import type { ChartVerifyResult } from '../../services/chart.service.js'
import { optionalArg, UsageError, type Command, type Flags } from '../command.js'
import { integerFrom, isoDate, oneOf } from '../flag-checks.js'
import { out, outStreamed, toJson } from '../io.js'
import { Progress } from '../progress.js'
import type { CliRuntime } from '../runtime.js'
import { PATIENT } from './flags.js'

// The audit code is loaded when a command runs, not at start: --help needs none of it.
const auditService = () => import('../../services/audit.service.js')

/** An action the audit log records (the library's list). */
async function auditAction(value: string, flag: string): Promise<void> {
  const { AUDIT_ACTIONS } = await import('../../services/audit-checks.js')
  if (!(AUDIT_ACTIONS as readonly string[]).includes(value))
    throw new UsageError(`--${flag} must be one of: ${AUDIT_ACTIONS.join(', ')}`)
}

const FILTER_OPTIONS: Flags = {
  user: { type: 'string', value: 'USER', description: 'entries where this user acted' },
  patient: {
    ...PATIENT,
    required: false,
    description: 'entries about this patient (a UUID)',
  },
  action: {
    type: 'string',
    value: 'NAME',
    description: 'entries of this action, e.g. grant, revoke, break_glass',
    check: auditAction,
  },
  from: {
    type: 'string',
    value: 'DATE',
    description: 'entries at or after, ISO 8601 (2026-01-31 or a date-time)',
    check: isoDate,
  },
  to: {
    type: 'string',
    value: 'DATE',
    description: 'entries before, ISO 8601',
    check: isoDate,
  },
}

function date(value: unknown): Date | undefined {
  return value === undefined ? undefined : new Date(String(value))
}

async function filtersFrom(
  rt: CliRuntime,
  args: Record<string, unknown>,
): Promise<AuditReportFilters> {
  const user =
    typeof args['user'] === 'string'
      ? await (await rt.vault()).findUser(args['user'])
      : undefined
  return {
    ...(user ? { actorUserId: user.id } : {}),
    ...(typeof args['patient'] === 'string' ? { patientId: args['patient'] } : {}),
    ...(typeof args['action'] === 'string'
      ? { action: args['action'] as AuditReportFilters['action'] & string }
      : {}),
    ...(date(args['from']) ? { from: date(args['from'])! } : {}),
    ...(date(args['to']) ? { to: date(args['to'])! } : {}),
  }
}

function plain(e: AuditEntry) {
  return {
    seq: e.seq,
    occurredAt: e.occurredAt.toISOString(),
    actor: e.actorUserId ?? '',
    action: e.action,
    patient: e.patientId ?? '',
    target: e.targetUserId ?? '',
    outcome: e.outcome,
    reason: e.reason ?? '',
    detail: e.detail ?? '',
  }
}

/**
 * A reason as one terminal-safe line: control characters (a newline that would
 * fake another report line, an escape sequence from a tampered row) are shown
 * escaped.
 */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f]/.test(text) ? JSON.stringify(text) : text
}

/**
 * An anchor file: the head of an earlier good verify as verifyAuditChain gives it,
 * `{ "lastSeq": "…", "lastMac": hex }`. Its shape is checked here so that a bad
 * file is a configuration error naming the file, not a bad argument.
 */
function readAnchor(path: string): AuditHeadState | undefined {
  if (!existsSync(path)) return undefined // the first run creates it
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<AuditHeadState>
    const { lastSeq, lastMac } = parsed
    if (
      typeof lastSeq !== 'string' ||
      !/^(0|[1-9][0-9]{0,19})$/.test(lastSeq) ||
      typeof lastMac !== 'string' ||
      !/^[0-9a-fA-F]{64}$/.test(lastMac)
    )
      throw new Error('shape')
    return { lastSeq, lastMac }
  } catch {
    throw new ConfigurationError(
      `${path} is not an audit anchor file (expected {"lastSeq","lastMac"})`,
    )
  }
}

function printChart(chart: ChartVerifyResult): void {
  if (!chart.ok) {
    out(`FAIL: chart of patient ${chart.patientId}:`)
    for (const f of chart.findings) out(`  ${f.kind}: ${printable(f.message)}`)
  } else if (chart.recorded) out(`OK: chart of patient ${chart.patientId} verified`)
  else
    out(
      `NOT RECORDED: patient ${chart.patientId} has no chart state yet (emr-vault chart baseline); nothing checked`,
    )
}

function writeAnchor(path: string, head: AuditHeadState): void {
  writeFileSync(
    path,
    `${JSON.stringify({ lastSeq: head.lastSeq, lastMac: head.lastMac })}\n`,
  )
}

/** Every entry matching `filters`, page by page: memory stays one page (keyset on seq). */
async function* entries(
  db: Knex,
  filters: AuditReportFilters,
): AsyncGenerator<AuditEntry> {
  const { auditReport } = await auditService()
  let after: AuditReportFilters['after']
  for (;;) {
    const page = await auditReport(db, {
      ...filters,
      limit: 1000,
      ...(after ? { after } : {}),
    })
    yield* page
    if (page.length < 1000) return
    after = page[page.length - 1]!
  }
}

/** A CSV cell: quoted when needed; a leading = + - @ is neutralised for spreadsheets (OWASP CSV injection). */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

export const auditCommands: Command[] = [
  {
    path: ['audit', 'verify'],
    summary:
      'check the audit chain; exit 1 and name the first bad row if it was edited, deleted, inserted or reordered',
    usage: '[--anchor FILE [--resume]] [--patient ID] [--json]',
    help: [
      'An anchor is a head recorded outside the database by an earlier good run: the',
      'chain must still contain it, which catches a log cut at the end with an old head',
      'restored. After a good run the new head is written back to the file.',
      '',
      '--resume checks only the rows after the anchor (and the anchor row itself), so a',
      "daily run takes the time of that day's rows. It does not see a change made",
      'since to a row before the anchor: run without --resume now and then (weekly).',
      '',
      "--patient also checks that patient's chart: every row against the chart state,",
      'and the state against the last one the audit trail records, which finds a row',
      'rolled back, deleted, NULLed or moved in, and a chart put back from a backup',
      '(docs/integrity.md). Needs the audit key only, no patient key.',
    ],
    options: {
      patient: {
        ...PATIENT,
        required: false,
        description: "also this patient's chart, against its state and the audit trail",
      },
      resume: {
        type: 'boolean',
        description: 'only the rows after the anchor (needs --anchor FILE)',
      },
      anchor: {
        type: 'string',
        value: 'FILE',
        description: 'the anchor file; created by the first run',
        // Read before the database is opened: a damaged anchor fails at once.
        check: (value) => {
          readAnchor(value)
          if (!existsSync(dirname(value)))
            throw new ConfigurationError(`the folder of ${value} does not exist`)
        },
      },
    },
    async run(rt, args) {
      const anchorFile = optionalArg(args, 'anchor')
      const anchor = anchorFile ? readAnchor(anchorFile) : undefined
      const resume = args['resume'] === true
      if (resume && !anchorFile)
        throw new UsageError('--resume needs --anchor FILE: the anchor to resume from')
      // A first run with --resume has no anchor yet: it checks every row and writes one.
      const patient = optionalArg(args, 'patient')
      const [{ verifyAuditChain }, { devAuditKey }] = await Promise.all([
        import('../../services/audit-verify.js'),
        import('../deployment-keys.js'),
      ])
      const db = await rt.db()
      const progress = new Progress('audit verify')
      const result = await verifyAuditChain(db, devAuditKey(), {
        onProgress: (n) => progress.update(n),
        ...(anchor ? { anchor, resume } : {}),
      })
      if (result.ok && anchorFile) writeAnchor(anchorFile, result.head)
      progress.done(
        result.ok
          ? `${result.rows} rows verified${result.resumedAfter ? ` after seq ${result.resumedAfter}` : ''}`
          : `chain broken at seq ${result.firstBadSeq}`,
      )
      // The chart's verify trusts the audit trail: it is reported beside the
      // chain's result, and the exit code needs both.
      const chart =
        patient === undefined
          ? undefined
          : await (
              await import('../../services/chart.service.js')
            ).verifyPatientChart(db, devAuditKey(), patient)
      if (rt.json) out(toJson(chart ? { ...result, chart } : result))
      else {
        if (result.ok)
          out(
            `OK: ${result.rows} rows${result.resumedAfter ? ` after the anchor (seq ${result.resumedAfter})` : ''}, last seq ${result.lastSeq}, head mac ${result.head.lastMac}`,
          )
        else
          out(
            `FAIL: ${result.message} (first bad seq ${result.firstBadSeq}, problem ${result.problem})`,
          )
        if (chart) printChart(chart)
      }
      return result.ok && (chart?.ok ?? true) ? 0 : 1
    },
  },
  {
    path: ['audit', 'disclosures'],
    summary:
      "who opened a patient's data, when, and under which access (creator, grant, break-glass): an accounting of disclosures",
    usage: '--patient ID [--from DATE] [--to DATE] [--json]',
    help: [
      "From the patient's audit rows alone (HIPAA 164.528 accounting of disclosures).",
      'It trusts them: run audit verify with it for a report that must stand up.',
    ],
    options: {
      patient: { ...PATIENT, description: 'the patient (a UUID)' },
      from: FILTER_OPTIONS['from']!,
      to: FILTER_OPTIONS['to']!,
    },
    async run(rt, args) {
      const { disclosuresOf } = await import('../../services/audit-disclosures.js')
      const from = date(args['from'])
      const to = date(args['to'])
      let n = 0
      for await (const d of disclosuresOf(await rt.db(), String(args['patient']), {
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
      })) {
        n++
        if (rt.json) await outStreamed(toJson(d))
        else {
          const b = d.basis
          const basis =
            b.kind === 'grant'
              ? `grant by ${b.grantedBy ?? '-'} at ${b.since.toISOString()}`
              : b.kind === 'recovery'
                ? `recovery restore by ${b.restoredBy ?? '-'} at ${b.since.toISOString()}`
                : b.kind === 'break-glass'
                  ? `break-glass at ${b.since.toISOString()}: ${printable(b.reason ?? '')}`
                  : b.kind === 'creator'
                    ? 'creator'
                    : 'unknown (no row grants it)'
          await outStreamed(
            `${d.at.toISOString()} ${d.userId ?? '-'} ${d.action}${d.detail ? ` (${printable(d.detail)})` : ''} via ${basis}`,
          )
        }
      }
      if (!rt.json) out(`${n} disclosures`)
      return 0
    },
  },
  {
    path: ['audit', 'report'],
    summary: 'audit entries, break-glass first; filter by user, patient, action and time',
    usage:
      '[--user USER] [--patient ID] [--action NAME] [--from DATE] [--to DATE] [--limit N] [--json]',
    options: {
      ...FILTER_OPTIONS,
      limit: {
        type: 'string',
        value: 'N',
        description: 'at most N entries (default 100)',
        check: integerFrom(1, 10_000),
      },
    },
    async run(rt, args) {
      const limit = Number(optionalArg(args, 'limit') ?? 100)
      const { auditReport } = await auditService()
      const rows = await auditReport(await rt.db(), {
        ...(await filtersFrom(rt, args)),
        breakGlassFirst: true,
        limit,
      })
      if (rt.json) out(toJson(rows.map((e) => plain(e))))
      else
        for (const r of rows.map((e) => plain(e))) {
          out(
            [
              r.seq,
              r.occurredAt,
              r.action,
              r.outcome,
              r.actor,
              r.patient,
              r.target,
              r.detail,
              printable(r.reason),
            ]
              .join('  ')
              .trimEnd(),
          )
        }
      return 0
    },
  },
  {
    path: ['audit', 'export'],
    summary:
      'stream audit entries to stdout as CSV, JSON lines, or FHIR R4 AuditEvent resources (NDJSON)',
    usage:
      '[--format csv|jsonl|fhir] [--user USER] [--patient ID] [--action NAME] [--from DATE] [--to DATE]',
    options: {
      ...FILTER_OPTIONS,
      format: {
        type: 'string',
        value: 'csv|jsonl|fhir',
        description:
          'CSV with a header line, one JSON object a line (default jsonl), or one FHIR R4 AuditEvent a line (IHE BALP codes)',
        check: oneOf('csv', 'jsonl', 'fhir'),
      },
    },
    async run(rt, args) {
      const format = optionalArg(args, 'format') ?? 'jsonl'
      const progress = new Progress('audit export')
      let n = 0
      if (format === 'csv')
        out(
          'seq,occurred_at,actor_user_id,action,patient_id,target_user_id,outcome,reason,detail',
        )
      const { toFhirAuditEvent } =
        format === 'fhir' ? await import('../../services/audit-fhir.js') : {}
      for await (const entry of entries(await rt.db(), await filtersFrom(rt, args))) {
        const r = plain(entry)
        await outStreamed(
          toFhirAuditEvent
            ? JSON.stringify(toFhirAuditEvent(entry))
            : format === 'csv'
              ? Object.values(r).map(csvCell).join(',')
              : JSON.stringify(r),
        )
        if (++n % 1000 === 0) progress.update(n)
      }
      progress.done(`${n} entries exported`)
      return 0
    },
  },
]
