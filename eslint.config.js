// Lint: typescript-eslint's recommended rules plus the project's boundaries:
// - layers import downward only; crypto/ and errors/ import nothing of the project;
// - src/ is what ships, so it imports nothing else of the repository (tools/, test/);
// - no import cycle in src/, type-only imports included.
// The boundaries hold for `import`, `export … from` and `import()` alike.
import js from '@eslint/js'
import { createNodeResolver, importX } from 'eslint-plugin-import-x'
import tseslint from 'typescript-eslint'
import projectRules from './tools/lint/no-import-cycle.js'

const LAYERS = [
  'errors',
  'migrations',
  'crypto',
  'db',
  'sql',
  'schema',
  'repositories',
  'services',
  'testing',
  'config',
  'cli',
]
/** Each layer may import only the layers listed for it (and itself). */
const ALLOWED = {
  errors: [],
  // The schema's history: knex only, so a migration means the same in every release.
  migrations: [],
  crypto: [],
  db: ['errors', 'migrations'],
  sql: ['errors', 'crypto', 'db'],
  // Table declarations, their column types, their DDL and the catalog of declared tables.
  schema: ['errors', 'crypto', 'db', 'sql'],
  repositories: ['errors', 'crypto', 'db', 'sql', 'schema'],
  services: ['errors', 'crypto', 'db', 'sql', 'schema', 'repositories'],
  // The local server for tests and development (emr-vault/testing).
  testing: ['errors', 'crypto', 'db'],
  // Reading and checking the deployment's keys from the environment.
  config: ['errors', 'crypto'],
  cli: [
    'errors',
    'crypto',
    'db',
    'sql',
    'schema',
    'repositories',
    'services',
    'testing',
    'config',
  ],
}

// import-x/no-restricted-paths resolves each import to a file and so sees
// dynamic import() and any folder depth (no-restricted-imports matches the
// specifier text only, and not in import()). An import it cannot resolve is not
// checked; tsc reports those.
const layerZones = LAYERS.map((layer) => ({
  target: `./src/${layer}`,
  from: [
    './src/index.ts',
    ...LAYERS.filter((l) => l !== layer && !ALLOWED[layer].includes(l)).map(
      (l) => `./src/${l}`,
    ),
  ],
  message: `src/${layer} may import only: ${ALLOWED[layer].join(', ') || 'nothing of the project'} (layers import downward).`,
}))
const shippedZone = {
  target: './src',
  from: '.',
  // package.json ships beside dist/; node_modules are the dependencies.
  except: ['./src', './node_modules', './package.json'],
  message:
    'src/ is the package: it may not import tools/, test/ or anything else outside src/, which do not ship.',
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.emr-vault/', 'bench-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          varsIgnorePattern: '^_',
        },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['tools/**', 'src/cli/**', 'test/**', '*.cjs', 'knexfile.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX, project: projectRules },
    settings: {
      // NodeNext specifiers name the emitted file: './x.js' is ./x.ts here.
      'import-x/resolver-next': [
        createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } }),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        // Zones are relative to this file, not to wherever eslint is started.
        { basePath: import.meta.dirname, zones: [...layerZones, shippedZone] },
      ],
      'project/no-import-cycle': 'error',
      'no-restricted-syntax': [
        'error',
        {
          // A computed specifier names no file that lint (or a reader) can check.
          selector: 'ImportExpression > :not(Literal).source',
          message:
            'import() in src/ takes a string literal, so lint can check where it leads.',
        },
      ],
    },
  },
)
