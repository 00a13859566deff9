import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The version in emr-vault's own package.json, read when asked: the file sits two
 * folders up from src/cli/ in the source tree, three from dist/src/cli/ in the
 * built package, so it is found by walking up to the nearest package.json named
 * emr-vault rather than by a fixed path. An application's package.json on the
 * way (there is none inside the package) is passed over by its name.
 */
export function packageVersion(from: string | URL = import.meta.url): string {
  let dir = dirname(fileURLToPath(from))
  for (;;) {
    const file = join(dir, 'package.json')
    let parsed: { name?: unknown; version?: unknown } | undefined
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed
    } catch {
      parsed = undefined // no file here, or not JSON: keep walking up
    }
    if (parsed?.name === 'emr-vault' && typeof parsed.version === 'string')
      return parsed.version
    const parent = dirname(dir)
    if (parent === dir) throw new Error('emr-vault package.json not found')
    dir = parent
  }
}
