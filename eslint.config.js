// Lint enforces the architecture: which folder may import which library.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const only = (name, message) => ({ name, message });

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'bench/results/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use an `as const` object instead of an enum.' }],
    },
  },
  {
    // Library boundaries (conventions.md): each outside library has one home.
    files: ['src/**/*.ts'],
    ignores: ['src/api/**', 'src/store/sqlite/**', 'src/execute/actions/kubernetes.ts', 'src/checks/kubernetes.ts', 'src/execute/actions/command.ts', 'src/config/**', 'src/checks/http-client.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            only('fastify', 'Only src/api imports fastify.'),
            only('@fastify/swagger', 'Only src/api imports fastify plugins.'),
            only('@fastify/swagger-ui', 'Only src/api imports fastify plugins.'),
            only('better-sqlite3', 'Only src/store/sqlite imports better-sqlite3.'),
            only('@kubernetes/client-node', 'Only the two kubernetes files import the Kubernetes client.'),
            only('node:child_process', 'Only src/execute/actions/command.ts runs programs.'),
            only('child_process', 'Only src/execute/actions/command.ts runs programs.'),
            only('undici', 'Only src/checks/http-client.ts imports undici: actions, checks and notifications send HTTP through it.'),
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only src/config reads process.env.' }],
    },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [only('better-sqlite3', 'The API speaks to the store port, not SQLite.'), only('@kubernetes/client-node', 'Only the kubernetes files import the client.'), only('node:child_process', 'Only the command action runs programs.')] }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only src/config reads process.env.' }],
    },
  },
  {
    // Decision logic takes time from the injected clock, never the wall clock.
    files: ['src/pipeline/**/*.ts', 'src/engine/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use the injected Clock.' },
        { object: 'process', property: 'env', message: 'Only src/config reads process.env.' },
      ],
    },
  },
);
