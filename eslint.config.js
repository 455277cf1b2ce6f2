// Typed ESLint config. `no-floating-promises` catches forgotten awaits; the restricted-syntax
// rule keeps clock and randomness inside src/core/env.ts so the simulator stays deterministic.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const envLeak = [
  {
    selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
    message: 'Use env.nowMs() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
    message: 'Use env.randomBytes() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.object.name='performance'][callee.property.name='now']",
    message: 'Use env.monoMs() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.name='setTimeout']",
    message: 'Use env.setTimer() (src/core/env.ts).',
  },
  {
    selector: "CallExpression[callee.name='setInterval']",
    message: 'Use env.setTimer() (src/core/env.ts).',
  },
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'bench/results/',
      'eslint.config.js',
      'bin/',
      'scripts/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/restrict-template-expressions': 'off',
      // Store and route handlers implement async interfaces; some are synchronous inside.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/core/env.ts', 'src/cli/**', 'src/chaos/**'],
    rules: { 'no-restricted-syntax': ['error', ...envLeak] },
  },
);
