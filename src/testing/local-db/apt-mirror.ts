import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The Debian mirror to download from is the one this machine's apt already uses:
 * no host name is written in this repository. We read /etc/apt/sources.list and
 * /etc/apt/sources.list.d/*.{list,sources} (the only names apt itself reads) and
 * take the first entry of a Debian release suite (not -security/-updates, not a
 * third-party suite like nodesource's `nodistro`).
 */

export interface DebianMirror {
  uri: string
  /**
   * Keyrings for the private entry's signed-by: Debian's archive keyring (it holds
   * the keys that sign sid and trixie too, not only the host's release) plus the
   * one the host's entry names, in case the mirror is re-signed locally.
   */
  signedBy: string[]
  /** The file it was read from, for messages. */
  source: string
}

interface SourceEntry {
  types: string[]
  uris: string[]
  suites: string[]
  components: string[]
  signedBy: string | undefined
  enabled: boolean
  source: string
}

const DEBIAN_SUITES = new Set([
  'buster',
  'bullseye',
  'bookworm',
  'trixie',
  'forky',
  'duke',
  'sid',
  'oldstable',
  'stable',
  'testing',
  'unstable',
])

const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'

export function findDebianMirror(etcApt = '/etc/apt'): DebianMirror {
  const entries = readAllSources(etcApt)
  const found = entries.find(
    (e) =>
      e.enabled &&
      e.types.includes('deb') &&
      e.components.includes('main') &&
      e.suites.some((suite) => DEBIAN_SUITES.has(suite)),
  )
  const uri = found?.uris[0]
  if (!found || !uri) {
    throw new Error(
      `No Debian mirror found in ${etcApt}/sources.list or ${etcApt}/sources.list.d/: ` +
        `the local database downloads Debian packages from the mirror this machine's apt uses. ` +
        `Add a Debian entry (e.g. suite bookworm, component main) or set EMR_VAULT_DB_HOST/PORT/USER/PASSWORD ` +
        `to use a server of your own.`,
    )
  }
  const signedBy = [
    ...(existsSync(DEFAULT_KEYRING) ? [DEFAULT_KEYRING] : []),
    ...(found.signedBy && found.signedBy !== DEFAULT_KEYRING ? [found.signedBy] : []),
  ]
  return { uri: uri.replace(/\/+$/, ''), signedBy, source: found.source }
}

function readAllSources(etcApt: string): SourceEntry[] {
  const entries: SourceEntry[] = []
  const main = join(etcApt, 'sources.list')
  if (existsSync(main)) entries.push(...parseOneLine(readFileSync(main, 'utf8'), main))
  const partsDir = join(etcApt, 'sources.list.d')
  const parts = existsSync(partsDir) ? readdirSync(partsDir).sort() : []
  for (const name of parts) {
    const file = join(partsDir, name)
    if (name.endsWith('.list'))
      entries.push(...parseOneLine(readFileSync(file, 'utf8'), file))
    if (name.endsWith('.sources'))
      entries.push(...parseDeb822(readFileSync(file, 'utf8'), file))
  }
  return entries
}

/** `deb [signed-by=/k.gpg arch=amd64] http://host/debian bookworm main contrib` */
export function parseOneLine(text: string, source: string): SourceEntry[] {
  const entries: SourceEntry[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim()
    if (!line) continue
    let options = ''
    const rest = line.replace(/\[([^\]]*)\]/, (_all, inner: string) => {
      options = inner
      return ''
    })
    const [type, uri, suite, ...components] = rest.trim().split(/\s+/)
    if (!type || !uri || !suite) continue
    const signed = /(?:^|\s)signed-by=(\S+)/.exec(options)?.[1]
    entries.push({
      types: [type],
      uris: [uri],
      suites: [suite],
      components,
      signedBy: signed,
      enabled: true,
      source,
    })
  }
  return entries
}

/** deb822 stanzas (Types:, URIs:, Suites:, Components:, Signed-By:, Enabled:). */
export function parseDeb822(text: string, source: string): SourceEntry[] {
  const entries: SourceEntry[] = []
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    let current: string | undefined
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue
      const field = /^([A-Za-z-]+):\s*(.*)$/.exec(raw)
      if (field?.[1] !== undefined) {
        current = field[1].toLowerCase()
        fields.set(current, field[2] ?? '')
      } else if (current && /^\s/.test(raw)) {
        // Continuation line (an inline armoured key under Signed-By, for example).
        fields.set(current, `${fields.get(current) ?? ''}\n${raw.trim()}`)
      }
    }
    const words = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter(Boolean)
    if (!fields.has('uris')) continue
    const signed = fields.get('signed-by')?.trim()
    entries.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      // An inline key (several lines) cannot be passed as a file name; fall back
      // to Debian's archive keyring then.
      signedBy: signed && !signed.includes('\n') ? signed : undefined,
      enabled: (fields.get('enabled') ?? 'yes').trim().toLowerCase() !== 'no',
      source,
    })
  }
  return entries
}
