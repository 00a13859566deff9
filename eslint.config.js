// Lint: typescript-eslint's recommended rules plus the layer rule: layers import
// downward only; crypto/ and errors/ import nothing of the project.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const LAYERS = [
  'errors',
  'crypto',
  'db',
  'sql',
  'repositories',
  'services',
  'testing',
  'config',
  'cli',
]
/** Each layer may import only the layers listed for it (and itself). */
const ALLOWED = {
  errors: [],
  crypto: [],
  db: ['errors'],
  sql: ['errors', 'crypto', 'db'],
  repositories: ['errors', 'crypto', 'db', 'sql'],
  services: ['errors', 'crypto', 'db', 'sql', 'repositories'],
  // The local server for tests and development (emr-vault/testing).
  testing: ['errors', 'crypto', 'db'],
  // Reading and checking the deployment's keys from the environment.
  config: ['errors', 'crypto'],
  cli: ['errors', 'crypto', 'db', 'sql', 'repositories', 'services', 'testing', 'config'],
}

const layerRules = LAYERS.map((layer) => {
  const forbidden = LAYERS.filter((l) => l !== layer && !ALLOWED[layer].includes(l))
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // From src/<layer>/x.ts and from one folder deeper (src/cli/commands/x.ts).
              group: [
                ...forbidden.flatMap((l) => [`../${l}/*`, `../../${l}/*`]),
                '../index.js',
                '../../index.js',
              ],
              message: `src/${layer} may import only: ${ALLOWED[layer].join(', ') || 'nothing of the project'}.`,
            },
          ],
        },
      ],
    },
  }
})

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.emr-vault/', 'bench-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['tools/**', 'seeds/**', 'src/cli/**', 'test/**', '*.cjs', 'knexfile.ts'],
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
  ...layerRules,
)
