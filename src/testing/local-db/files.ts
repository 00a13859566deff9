import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'

/** Small file helpers shared by the cache and the state directory. */

/** Write to a temporary name, then rename: readers see the old file or the whole new one. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`)
  renameSync(temporary, file)
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

/** Size of a file, 0 if it does not exist: where this run's part of a log starts. */
export function fileSize(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

/** The last `count` lines of a log file (from byte `from` on), or a note that there is none. */
export function tailFile(file: string, count: number, from = 0): string {
  try {
    const lines = readFileSync(file).subarray(from).toString('utf8').split('\n')
    while (lines.length && lines[lines.length - 1] === '') lines.pop()
    return lines.slice(-count).join('\n')
  } catch {
    return `(no log at ${file})`
  }
}
