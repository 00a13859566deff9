// Tests are TypeScript run through tsx.
//
// `npm test` runs every test; `npm test -- <file or folder>…` runs just those
// (mocha would otherwise add the named files to the default spec); and when
// everything named lies under test/unit/, as with `npm run test:unit`, no
// database is started: the global fixture (test/support/global-fixture.ts),
// which finds or starts a server and migrates a fresh database for the run,
// is loaded only when some test may need it.
const { existsSync } = require('node:fs')
const { relative, resolve } = require('node:path')

const named = process.argv.slice(2).filter((a) => !a.startsWith('-') && existsSync(a))
const unitOnly =
  named.length > 0 &&
  named.every((a) => !relative(resolve('test/unit'), resolve(a)).startsWith('..'))

module.exports = {
  'node-option': ['import=tsx'],
  ...(unitOnly ? {} : { require: ['test/support/global-fixture.ts'] }),
  ...(named.length > 0 ? {} : { spec: ['test/**/*.test.ts'] }),
  extension: ['ts'],
  recursive: true,
  reporter: 'test/support/summary-reporter.cjs',
  timeout: 20000,
  forbidOnly: Boolean(process.env.CI),
  exit: true,
}
