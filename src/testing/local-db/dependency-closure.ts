/**
 * Which packages to download: the server and client packages plus every library
 * they need, down to libc6 (the host's glibc is too old for sid's binaries, so the
 * private root carries its own). Input is the text of
 * `apt-cache depends --recurse --no-recommends … <roots>` run against a private,
 * empty dpkg status, so apt considers nothing installed.
 *
 * We walk that graph ourselves instead of taking every name it prints, to choose
 * one package per alternative (`a | b`) and to leave out what only package
 * maintainer scripts use (perl, debconf …): nothing here is installed, only
 * unpacked, and the servers do not run perl.
 */

/** Never needed to run mysqld/mariadbd or the client from an unpacked root. */
const NOT_NEEDED = [
  /^perl(-base)?$/,
  /^perl-modules-/,
  /^libperl/,
  /^debconf/,
  /^dpkg$/,
  /^adduser$/,
  /^passwd$/,
  /^lsb-base$/,
  /^init-system-helpers$/,
  /^sysvinit-utils$/,
]

export function isNotNeeded(name: string): boolean {
  return NOT_NEEDED.some((pattern) => pattern.test(name))
}

/** One dependency: alternatives in order; a virtual name lists its providers. */
interface Alternative {
  name: string
  virtual: boolean
  providers: string[]
}

type Graph = Map<string, Alternative[][]>

export function parseDependsOutput(text: string): Graph {
  const graph: Graph = new Map()
  let groups: Alternative[][] | undefined
  let group: Alternative[] = []
  let last: Alternative | undefined
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    if (!line.startsWith(' ')) {
      // A package heading; virtual packages appear as "<name>" and have no deps.
      groups = []
      group = []
      last = undefined
      graph.set(line.trim(), groups)
      continue
    }
    const dep = /^ (\||\s)(PreDepends|Depends): (.+)$/.exec(line)
    if (dep && groups) {
      const raw = (dep[3] ?? '').trim()
      const virtual = raw.startsWith('<')
      last = { name: stripArch(raw.replace(/^<|>$/g, '')), virtual, providers: [] }
      group.push(last)
      // A leading '|' means "or the next line"; otherwise the group is complete.
      if (dep[1] !== '|') {
        groups.push(group)
        group = []
      }
      continue
    }
    if (/^ {4}\S/.test(line) && last?.virtual) last.providers.push(stripArch(line.trim()))
  }
  return graph
}

function stripArch(name: string): string {
  return name.replace(/:(any|amd64|all|native)$/, '')
}

/** Names to download: everything reachable from `roots`, one choice per alternative. */
export function dependencyClosure(graph: Graph, roots: readonly string[]): string[] {
  const chosen = new Set<string>()
  const queue = [...roots]
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (chosen.has(name) || isNotNeeded(name)) continue
    const groups = graph.get(name)
    if (!groups) throw new Error(`apt-cache did not list package ${name}`)
    chosen.add(name)
    for (const alternatives of groups) {
      const pick = choose(graph, alternatives)
      if (pick) queue.push(pick)
    }
  }
  return [...chosen].sort()
}

function choose(graph: Graph, alternatives: Alternative[]): string | undefined {
  const candidates = alternatives.flatMap((alt) =>
    alt.virtual ? alt.providers : [alt.name],
  )
  // An alternative that is not needed satisfies the group (perl | foo: skip both).
  if (candidates.some(isNotNeeded)) return undefined
  return candidates.find((name) => graph.has(name))
}
