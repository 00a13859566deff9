// ESLint rule: no import cycle among the project's own modules, type-only imports
// included.
//
// import-x/no-cycle skips `import type` unconditionally (no option turns that
// off), both for the import it checks and along the path back. A circle made of
// type imports is harmless at run time, but it still ties its files into one
// unit that can only be understood, tested and changed together; and the likeliest
// circle here, a facade that calls services which name the facade's type, is made
// entirely of them. So this rule counts every import: static, type-only,
// `export … from`, `import()` and `import('…').T`.
//
// Only relative specifiers are followed (the project imports its own modules no
// other way; NodeNext makes them name a file, `./x.js` for `./x.ts`). A specifier
// that names no file is skipped: tsc reports it.
import { readFileSync, statSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import ts from 'typescript'

/** Source extensions tried for an emitted one, as NodeNext resolves them. */
const SOURCE_FOR = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' }

/** path → { mtimeMs, size, imports }: files are read again only when they change. */
const parsed = new Map()

function isFile(path) {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function resolveSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined
  const base = resolve(dirname(fromFile), specifier)
  const ext = Object.keys(SOURCE_FOR).find((e) => base.endsWith(e))
  const candidates = ext ? [base.slice(0, -ext.length) + SOURCE_FOR[ext], base] : [base]
  return candidates.find(isFile)
}

/** The project files a file on disk imports, in any form (scanner only, no parse). */
function importsOnDisk(file) {
  let stat
  try {
    stat = statSync(file)
  } catch {
    return []
  }
  const hit = parsed.get(file)
  if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) return hit.imports
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  const imports = [
    ...new Set(
      importedFiles.map((f) => resolveSpecifier(file, f.fileName)).filter(Boolean),
    ),
  ]
  parsed.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, imports })
  return imports
}

/** The shortest import path from `start` to `goal` as a list of files, or undefined. */
function pathBetween(start, goal, importsOf) {
  const previous = new Map([[start, undefined]])
  const queue = [start]
  for (let at = 0; at < queue.length; at++) {
    const file = queue[at]
    if (file === goal) {
      const path = []
      for (let f = goal; f !== undefined; f = previous.get(f)) path.unshift(f)
      return path
    }
    for (const next of importsOf(file)) {
      if (!previous.has(next)) {
        previous.set(next, file)
        queue.push(next)
      }
    }
  }
  return undefined
}

export const noImportCycle = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Forbid an import (type-only ones included) that leads back to the importing file',
    },
    schema: [],
    messages: {
      cycle:
        'Import cycle: {{path}}. Type-only imports count. Move what both sides need into a module that imports neither.',
    },
  },
  create(context) {
    const file = context.physicalFilename
    // Text that is not a file (stdin) cannot be imported back.
    if (!isFile(file)) return {}
    // Each file is read from disk once per linted file (the linted one never:
    // its imports are the AST's, which may be newer than the disk).
    const memo = new Map()
    const importsOf = (f) => {
      if (f === file) return []
      if (!memo.has(f)) memo.set(f, importsOnDisk(f))
      return memo.get(f)
    }
    const check = (node, source) => {
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return
      const target = resolveSpecifier(file, source.value)
      if (target === undefined || target === file) return
      const back = pathBetween(target, file, importsOf)
      if (back === undefined) return
      const path = [file, ...back].map((f) => relative(context.cwd, f)).join(' → ')
      context.report({ node, messageId: 'cycle', data: { path } })
    }
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
      TSImportType: (node) => check(node, node.source ?? node.argument?.literal),
      TSImportEqualsDeclaration: (node) => check(node, node.moduleReference.expression),
    }
  },
}

/** The project's own lint rules, as an ESLint plugin. */
export default {
  meta: { name: 'emr-vault-lint' },
  rules: { 'no-import-cycle': noImportCycle },
}
