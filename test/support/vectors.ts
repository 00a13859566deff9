import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The published vectors kept in this repository, with their sources in its README. */
export const VECTORS_DIR = fileURLToPath(new URL('../vectors/', import.meta.url))

/** Reads a vector file as text. */
export function readVectorText(relativePath: string): string {
  return readFileSync(VECTORS_DIR + relativePath, 'utf8')
}

/** Reads a JSON vector file. */
export function readVectorJson<T>(relativePath: string): T {
  return JSON.parse(readVectorText(relativePath)) as T
}
