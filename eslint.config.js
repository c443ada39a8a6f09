// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'web/dist/**', 'docs/api/**', 'node_modules/**', 'coverage/**', 'bench/results/**', '.cache/**', 'results/**', 'runs/**', 'ckaad-demo/**', 'ckaad-eval/**', 'ckaad-score/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
