import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** `../shared/vectors` beside the clone: where the developers and CI keep the published vectors. */
export const VECTORS_DIR = fileURLToPath(
  new URL('../../../shared/vectors/', import.meta.url),
)

export function readVectorJson<T>(relativePath: string): T {
  return JSON.parse(readFileSync(VECTORS_DIR + relativePath, 'utf8')) as T
}
