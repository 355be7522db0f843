/**
 * A table bigger than ELT_SNAPSHOT_SPLIT_MB is copied in block ranges, in parallel, at the one
 * exported snapshot: it arrives complete and equal, with a key and without one. Killed (-9) in
 * the middle of a split table's copy, with some of its parts committed, the restarted
 * replicator empties that table and copies it again: nothing is lost or doubled.
 */
import { describe, expect, it } from 'vitest';
import { replicationFixture } from '../../harness/fixture.js';
import { query, tablesCopied, waitFor } from '../../harness/replication.js';

const SOURCE_SQL = `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, note text);
  INSERT INTO accounts SELECT i, i * 3, repeat('x', 100) FROM generate_series(1, 300000) i;
  -- A hole in the middle: blocks without live rows still split evenly and lose nothing.
  DELETE FROM accounts WHERE id BETWEEN 100000 AND 120000;
  CREATE TABLE events (at bigint, kind text, payload text);
  ALTER TABLE events REPLICA IDENTITY FULL;
  INSERT INTO events SELECT i, 'kind ' || (i % 7), repeat('y', 80) FROM generate_series(1, 150000) i;
  INSERT INTO events SELECT i, 'duplicate', 'same' FROM generate_series(1, 3) i, generate_series(1, 5);
  CREATE TABLE small (id int PRIMARY KEY, name text);
  INSERT INTO small VALUES (1, 'one'), (2, 'two');
  ANALYZE;`;

const SPLIT = { ELT_SNAPSHOT_SPLIT_MB: '1', ELT_SNAPSHOT_JOBS: '3' };

describe('a snapshot that splits big tables into block ranges', () => {
  it('copies a table with a key and one without, split, complete and equal', async () => {
    await using pair = await replicationFixture({ sourceSql: SOURCE_SQL, env: SPLIT });
    await pair.start();
    const copied = tablesCopied(pair.output());
    expect(copied.get('public.accounts')?.parts).toBeGreaterThan(1);
    expect(copied.get('public.events')?.parts).toBeGreaterThan(1);
    expect(copied.get('public.small')?.parts).toBe(1);
    await pair.expectEqual();
    // The key index is built after the rows and serves the stream.
    await query(pair.sourceUrl, 'UPDATE accounts SET balance = -1 WHERE id = 250000');
    await query(pair.sourceUrl, "DELETE FROM events WHERE kind = 'duplicate' AND at = 2");
    await pair.catchUp();
    await pair.expectEqual();
    const [index] = await query<{ n: number }>(
      pair.destinationUrl,
      "SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'staging.accounts'::regclass AND indisunique",
    );
    expect(index!.n).toBe(1);
  });

  it('empties and copies again a split table whose copy was killed midway', async () => {
    await using pair = await replicationFixture({ sourceSql: SOURCE_SQL, env: { ...SPLIT, ELT_SNAPSHOT_JOBS: '2' } });
    pair.launch();
    // Some parts of accounts committed, the table not finished yet.
    await waitFor(
      'a part of accounts to be committed',
      async () => {
        const [row] = await query<{ state: string | null; rows: number }>(
          pair.destinationUrl,
          `SELECT (SELECT state FROM elt.tables WHERE source_table = 'accounts') AS state,
             (SELECT count(*)::int FROM staging.accounts) AS rows`,
        );
        return row?.state === 'snapshotting' && row.rows > 0;
      },
      120_000,
      20,
    );
    await pair.stop('SIGKILL');
    const [killed] = await query<{ state: string; rows: number }>(
      pair.destinationUrl,
      `SELECT (SELECT state FROM elt.tables WHERE source_table = 'accounts') AS state,
         (SELECT count(*)::int FROM staging.accounts) AS rows`,
    );
    expect(killed).toMatchObject({ state: 'snapshotting' });
    expect(killed!.rows).toBeGreaterThan(0);

    await query(pair.sourceUrl, 'UPDATE accounts SET balance = balance + 1 WHERE id % 1000 = 0');
    await query(pair.sourceUrl, "INSERT INTO events VALUES (-1, 'after the kill', 'z')");
    await pair.start();
    await query(pair.sourceUrl, 'DELETE FROM accounts WHERE id % 999 = 0');
    await pair.catchUp();
    await pair.expectEqual();
  });
});
