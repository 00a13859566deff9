#!/usr/bin/env node
// The `emr-vault` command. It runs the TypeScript sources through tsx, as the
// knex CLI does through knexfile.js: this is a DBA tool run from the project.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
