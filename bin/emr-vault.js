#!/usr/bin/env node
// The `emr-vault` command: the compiled CLI. In a clone, dist/ exists only after
// `npm run build`; say so in one line instead of a module-resolution stack.
import { existsSync } from 'node:fs'
import process from 'node:process'
import { URL } from 'node:url'

const main = new URL('../dist/src/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write(
    'emr-vault: the compiled command is missing (dist/); in a clone, run: npm run build\n',
  )
  process.exit(70)
}
await import(main.href)
