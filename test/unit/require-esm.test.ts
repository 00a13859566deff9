import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

/**
 * CommonJS callers load the package with require(), which Node (>= 20.19) can
 * do for an ES module graph only if no module in it uses top-level await
 * (ERR_REQUIRE_ASYNC_MODULE otherwise). The package smoke test proves it on the
 * built tarball; this finds it in seconds, in the sources, with the file named.
 * The CLI's entry (src/cli/main.ts) awaits at top level and must stay outside
 * the graphs of the two entry points.
 */
const ROOT = resolve(import.meta.dirname, '../..')
const ENTRIES = ['src/index.ts', 'src/testing/index.ts']

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest)
}

/** Modules a static import or re-export loads (dynamic import() is async: it does not count). */
function staticImports(source: ts.SourceFile): string[] {
  const found: string[] = []
  for (const statement of source.statements) {
    const isImport = ts.isImportDeclaration(statement)
    if (!isImport && !ts.isExportDeclaration(statement)) continue
    if (isImport ? statement.importClause?.isTypeOnly : statement.isTypeOnly) continue
    const specifier = statement.moduleSpecifier
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.')) {
      found.push(join(dirname(source.fileName), specifier.text.replace(/\.js$/, '.ts')))
    }
  }
  return found
}

/** The first `await` (or `for await`) outside any function, as "line:column". */
function topLevelAwait(source: ts.SourceFile): string | undefined {
  let at: number | undefined
  const visit = (node: ts.Node): void => {
    if (at !== undefined || ts.isFunctionLike(node)) return
    if (
      ts.isAwaitExpression(node) ||
      (ts.isForOfStatement(node) && node.awaitModifier !== undefined)
    ) {
      at = node.getStart(source)
      return
    }
    ts.forEachChild(node, visit)
  }
  ts.forEachChild(source, visit)
  if (at === undefined) return undefined
  const { line, character } = source.getLineAndCharacterOfPosition(at)
  return `${line + 1}:${character + 1}`
}

function graphOf(entry: string): ts.SourceFile[] {
  const seen = new Map<string, ts.SourceFile>()
  const queue = [join(ROOT, entry)]
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue
    const source = parse(file)
    seen.set(file, source)
    queue.push(...staticImports(source))
  }
  return [...seen.values()]
}

describe('require(esm): the entry points load without top-level await', () => {
  for (const entry of ENTRIES) {
    it(`${entry} and everything it imports`, () => {
      const graph = graphOf(entry)
      const names = graph.map((s) => relative(ROOT, s.fileName))
      expect(names).to.include(entry)
      expect(names).not.to.include('src/cli/main.ts')
      const offenders = graph.flatMap((s) => {
        const where = topLevelAwait(s)
        return where ? [`${relative(ROOT, s.fileName)}:${where}`] : []
      })
      expect(offenders).to.deep.equal([])
    })
  }

  it('finds the top-level await of the CLI entry (the check can fire)', () => {
    expect(topLevelAwait(parse(join(ROOT, 'src/cli/main.ts')))).to.be.a('string')
    expect(
      topLevelAwait(
        ts.createSourceFile(
          'x.ts',
          'for await (const x of y) {}',
          ts.ScriptTarget.Latest,
        ),
      ),
    ).to.equal('1:1')
    expect(
      topLevelAwait(
        ts.createSourceFile(
          'x.ts',
          'async function f() { await g() }',
          ts.ScriptTarget.Latest,
        ),
      ),
    ).to.equal(undefined)
  })
})
