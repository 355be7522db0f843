/**
 * A lending library (fixtures/library.sql), a sample database of another shape than the demo:
 * many-to-many authors, loans as date ranges under an exclusion constraint, fines in numeric,
 * counters kept by triggers, a tsvector generated column with a GIN index, identity and serial
 * keys, a whole-row identity table, a history partitioned by year, a view and a materialized
 * view. A day of circulation (fixtures/library-writes.sql) runs over and over while the
 * replicator snapshots, streams and is killed twice; then every table equals its replica, or is
 * excluded with its reason.
 */
import { describe, expect, it } from 'vitest';
import {
  expectTablesEqual,
  replicateThroughKills,
  sampleDatabaseSuite,
  settledTableStates,
  type NotReplicated,
} from './sample-database.js';

/** Every other table: streaming, and equal to its source. */
const REPLICATED = [
  'authors',
  'book_authors',
  'books',
  'copies',
  'fines',
  'loan_history',
  'loans',
  'members',
  'wish_list',
];

/** Tables that must not be replicated, with words their reason must contain. */
const NOT_REPLICATED: Record<string, NotReplicated> = {
  desk_log: { state: 'excluded', reason: 'no primary key or replica identity' },
};

describe('a lending library', () => {
  const pair = sampleDatabaseSuite('library');

  it('replicates through a day-by-day circulation and two kill -9s: every table equal or excluded with its reason', async () => {
    const writes = await replicateThroughKills(pair, 'library-writes.sql');
    expect(await settledTableStates(pair, 'public', NOT_REPLICATED)).toEqual(
      REPLICATED.map((table) => `${table}: streaming`),
    );

    const tables = await expectTablesEqual(pair, 'public', Object.keys(NOT_REPLICATED));
    // Every table was compared, with the rows the fixture and the writes gave it.
    expect(tables.map((t) => t.table)).toEqual(REPLICATED);
    expect(tables.every((t) => t.source > 300)).toBe(true);
    expect(writes.rounds).toBeGreaterThanOrEqual(6);
  });
});
