import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.medallion/', 'nodes/*/*.html'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ['node-red'], patterns: ['@node-red/*'] }],
    },
  },
  {
    // browser scripts the editor loads beside the nodes' .html (plain scripts, not modules)
    files: ['resources/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { window: 'readonly', RED: 'readonly', $: 'readonly' },
    },
    rules: {
      // validators declare (v, opt): only then does Node-RED take a returned text as the error
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^opt$' }],
    },
  },
  prettier,
);
