#!/usr/bin/env node
// `npm test` runs this first (pretest). The CLI tests spawn the real command,
// bin/emr-vault.js, which runs the compiled dist/: a fresh clone has none, and
// an edited source makes it stale. A build takes a few seconds and this check
// a fraction of one, so it builds only when dist/ does not match the sources:
// an output missing or older than its source or the compiler settings, or an
// output left from a source that no longer exists.
//
// Plain JavaScript, so that it runs before anything else without tsx.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import process from 'node:process'
import ts from 'typescript'

const CONFIG = 'tsconfig.build.json'

function compilerInputs() {
  const { config, error } = ts.readConfigFile(CONFIG, ts.sys.readFile)
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'))
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, process.cwd())
  return {
    sources: parsed.fileNames.filter((f) => !f.endsWith('.d.ts')),
    outDir: parsed.options.outDir,
    rootDir: parsed.options.rootDir,
  }
}

function* filesUnder(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* filesUnder(path)
    else yield path
  }
}

function staleReason() {
  const { sources, outDir, rootDir } = compilerInputs()
  if (!outDir || !rootDir || !existsSync(outDir)) return `${CONFIG}'s outDir is missing`
  // The settings count as a source of every output.
  const settings = Math.max(...[CONFIG, 'tsconfig.json'].map((f) => statSync(f).mtimeMs))
  const expected = new Set()
  for (const source of sources) {
    const output = join(outDir, relative(rootDir, source)).replace(/\.ts$/, '.js')
    expected.add(output)
    if (!existsSync(output)) return `${relative('.', output)} is missing`
    const built = statSync(output).mtimeMs
    if (built < statSync(source).mtimeMs || built < settings) {
      return `${relative('.', source)} is newer than its output`
    }
  }
  for (const output of filesUnder(outDir)) {
    if (output.endsWith('.js') && !expected.has(join(output))) {
      return `${relative('.', output)} has no source any more`
    }
  }
  return undefined
}

const reason = staleReason()
if (reason) {
  process.stdout.write(`dist/ is out of date (${reason}): npm run build\n`)
  execSync('npm run --silent build', { stdio: 'inherit' })
}
