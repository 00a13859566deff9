import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DebianMirror } from './apt-mirror.js'
import { dependencyClosure, parseDependsOutput } from './dependency-closure.js'
import { lastLines, run, RunError } from './exec.js'
import { DEBIAN_ARCH } from './private-root.js'

/**
 * apt-get/apt-cache against a private configuration (what worked on Debian 12: a private
 * sources list and lists directory). Nothing is installed and the host's apt state
 * is not touched: sources, lists, package cache and dpkg status are all under the
 * given directory. The status file is empty, so apt resolves dependencies as if
 * nothing were installed, which is what a private root needs.
 */
export class PrivateApt {
  readonly #dir: string
  readonly #options: string[]

  constructor(dir: string) {
    this.#dir = dir
    // prettier-ignore
    this.#options = [
      '-o', `Dir::Etc::sourcelist=${join(dir, 'sources.list')}`,
      '-o', 'Dir::Etc::sourceparts=/dev/null',
      // The host's pinning must not steer which version of a sid package we get.
      '-o', 'Dir::Etc::preferences=/dev/null',
      '-o', 'Dir::Etc::preferencesparts=/dev/null',
      '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
      '-o', `Dir::State::status=${join(dir, 'status')}`,
      '-o', `Dir::Cache=${join(dir, 'cache')}`,
      '-o', `APT::Architecture=${DEBIAN_ARCH}`,
      '-o', `APT::Architectures=${DEBIAN_ARCH}`,
      '-o', 'Acquire::Languages=none',
      // apt drops to the _apt user to download; it cannot write into root's
      // private ~/.cache, and would warn on every file.
      '-o', 'APT::Sandbox::User=root',
    ]
  }

  /** Writes the private sources list for `suite` and an empty dpkg status. */
  configure(mirror: DebianMirror, suite: string): void {
    mkdirSync(join(this.#dir, 'lists', 'partial'), { recursive: true })
    mkdirSync(join(this.#dir, 'cache', 'archives', 'partial'), { recursive: true })
    const signed = mirror.signedBy.length
      ? ` [signed-by=${mirror.signedBy.join(',')}]`
      : ''
    writeFileSync(
      join(this.#dir, 'sources.list'),
      `deb${signed} ${mirror.uri} ${suite} main\n`,
    )
    writeFileSync(join(this.#dir, 'status'), '')
  }

  async update(): Promise<void> {
    // Without --error-on=any, `apt-get update` exits 0 when it could not reach
    // the mirror (it only warns), and the next step fails obscurely.
    await this.#apt(
      'apt-get',
      ['update', '--error-on=any'],
      5 * 60_000,
      'download the package lists',
    )
  }

  /** The packages `roots` need, by name, resolved from the private lists. */
  async closure(roots: readonly string[]): Promise<string[]> {
    // Only hard dependencies: recommended, suggested, conflicting … packages are not needed.
    const only = ['--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks']
    const args = [
      'depends',
      '--recurse',
      ...only,
      '--no-replaces',
      '--no-enhances',
      ...roots,
    ]
    const { stdout } = await this.#apt(
      'apt-cache',
      args,
      60_000,
      'resolve the dependencies',
    )
    return dependencyClosure(parseDependsOutput(stdout), roots)
  }

  /** Downloads the .debs of `names` (current candidate versions) into `dest`. */
  async download(names: readonly string[], dest: string): Promise<void> {
    mkdirSync(dest, { recursive: true })
    await this.#apt(
      'apt-get',
      ['download', ...names],
      10 * 60_000,
      'download the packages',
      dest,
    )
  }

  async #apt(
    tool: string,
    args: string[],
    timeoutMs: number,
    what: string,
    cwd?: string,
  ) {
    try {
      return await run(tool, [...this.#options, ...args], {
        timeoutMs,
        ...(cwd === undefined ? {} : { cwd }),
        env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      })
    } catch (error) {
      if (!(error instanceof RunError)) throw error
      const tail = lastLines(`${error.stdout}\n${error.stderr}`, 12) || '(no output)'
      throw new Error(
        `${tool} could not ${what} (${error.message}). Is the Debian mirror reachable from this ` +
          `machine? Retry when it is; nothing half-done is kept.\n` +
          `Private apt configuration: ${this.#dir}\nLast lines from ${tool}:\n${tail}`,
        { cause: error },
      )
    }
  }
}
