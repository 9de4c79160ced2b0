// Lint config: ESLint flat config with typescript-eslint, for src/, test/ and bench/ (`npm run lint`).
//
// Preset: typescript-eslint's `strictTypeChecked` + `stylisticTypeChecked` (over ESLint's
// `recommended`). The type-aware rules are the ones that matter most in a broker: floating
// promises, conditions and assertions the types already rule out, unsafe `any`. The code meets
// them with the few options below, each with its reason; a rule is switched off for a line only
// where the types cannot see what the line guards against, with a comment saying what.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'node_modules/', 'native/', 'target/', 'test/interop/**/target/'],
  },
  {
    files: ['**/*.ts'],
    extends: [eslint.configs.recommended, tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The codebase's convention: `T[]` for simple element types, `Array<...>` for unions,
      // object literals and tuples, where `{ a: number }[]` reads worse.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // Errors carry context (topic, partition, offset, the limit exceeded): numbers and bigints in
      // messages are the point. Other types (objects, nullish, any) stay forbidden.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `socket.on('data', (chunk) => this.onData(chunk))` is the Node event-handler idiom; braces
      // would add noise without making the void return any clearer.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // tap tracks its subtests itself: `t.test(...)` need not be awaited.
          allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tap ends a subtest when the promise its callback returns settles (else the body must call
      // t.end()), so `async` on a test body without an await is what marks it done.
      '@typescript-eslint/require-await': 'off',
      // In a test a wrong `!` fails the test, which is what a test is for; guards would only
      // restate the assertion that follows. Silent loggers and no-op callbacks are test doubles.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-empty-function': 'off',
    },
  },
  {
    // The broker logs through pino (the storage layer through the logger it is given); only the
    // CLI talks to the terminal directly.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/main.ts'],
    rules: { 'no-console': 'error' },
  },
);
