// ESLint for every TypeScript and JavaScript file (`make lint`): typescript-eslint's type-checked recommended
// rules, with the tsconfig.json project for type information. Formatting is prettier's job (.prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.elt/',
      'custom_postgres/target/',
      'custom_postgres/dbt_packages/',
      'bench/results/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['bin/elt.js', 'eslint.config.js', 'esbuild.config.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // An unused name is dead code or a bug; `_name` says "unused on purpose" (a callback's fixed signature).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'all', caughtErrorsIgnorePattern: '^_' },
      ],
      // A promise nobody awaits loses its error; `void p` says "fire and forget" on purpose.
      '@typescript-eslint/no-floating-promises': 'error',
      // An empty block, an empty catch included, must carry a comment saying why nothing is done; so must an
      // empty function, such as the handler of `.catch(() => {})` that swallows an error.
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-empty-function': 'error',
      // Not enabled: the no-unsafe-* family (reading `any`, mostly parsed JSON in tests: they would want typed
      // response helpers first) and require-await (an async function without await is not a bug).
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
      // Not enabled: unbound-method. What it finds are interface methods implemented as closures and passed on
      // (a child process's output()), which are safe; declaring them as properties would serve only the rule.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
);
