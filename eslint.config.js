// Typed ESLint config. `no-floating-promises` catches forgotten awaits. For src/, Quorate's own
// plugin (scripts/eslint/quorate-plugin.js) adds: the layering rule (imports go within a folder
// or to a lower level: core ← protocol/session/detector/policy ← store/transport/checker ←
// party/coordinator ← api/sim/chaos ← cli, see src/README.md), the 70-line limit on functions,
// and the clock/randomness rule, which keeps Date.now, new Date() and Date(), Math.random,
// performance.now, process.hrtime, setTimeout/setInterval/setImmediate and node:crypto
// randomness inside src/core/env.ts so the simulator stays deterministic. `new Date(ms)` stays
// allowed: it only formats an instant the caller already has.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { clockRules, quoratePlugin, srcRules } from './scripts/eslint/quorate-plugin.js';

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
    files: ['scripts/eslint/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['src/**/*.ts'],
    plugins: { quorate: quoratePlugin },
    rules: srcRules,
  },
  {
    // The whole of src/, cli and chaos included; env.ts is the Env itself.
    files: ['src/**/*.ts'],
    ignores: ['src/core/env.ts'],
    rules: clockRules,
  },
);
