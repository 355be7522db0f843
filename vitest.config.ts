import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'replicator/**/*.test.ts',
      'api/**/*.test.ts',
      'source_db_init/**/*.test.ts',
      'harness/**/*.test.ts',
      'custom_postgres/**/*.test.ts',
      'monitoring/**/*.test.ts',
      'docker/**/*.test.ts',
      'airflow/**/*.test.ts',
      'chaos/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    // Files that need PostgreSQL start their own clusters; two at a time suits a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
