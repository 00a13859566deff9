// Tests are TypeScript run through tsx; one global fixture starts (or finds) the
// database and creates a fresh schema for the run (test/support/global-fixture.ts).
module.exports = {
  'node-option': ['import=tsx'],
  require: ['test/support/global-fixture.ts'],
  spec: ['test/**/*.test.ts'],
  reporter: 'test/support/summary-reporter.cjs',
  timeout: 20000,
  forbidOnly: Boolean(process.env.CI),
  exit: true,
}
