// The knex CLI (`npx knex …`) looks for knexfile.js first and cannot load
// TypeScript by itself in an ESM package. Registering tsx here lets it load
// knexfile.ts and, through the same hooks, the .ts migrations it imports.
import { register } from 'tsx/esm/api'

register()
const { default: knexfile } = await import('./knexfile.ts')
export default knexfile
