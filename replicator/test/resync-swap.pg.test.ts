/**
 * An online resync swaps its copy in at the right moment and keeps what the copy cannot
 * know: the copy, taken at a snapshot point, replaces the replica table only once the
 * stream has applied everything before that point (else those changes land twice), and in
 * soft-delete mode the rows already marked deleted stay as they were.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';
import { queueResync, waitForResync } from './queue-resync.js';

describe('an online resync while the stream is behind', () => {
  const pair = replicationSuite({ start: false });

  beforeAll(async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE events (id int, v text);
       ALTER TABLE events REPLICA IDENTITY FULL;
       INSERT INTO events VALUES (0, 'first');
       CREATE TABLE blocker (id int PRIMARY KEY);`,
    );
    await pair.start();
  });

  it('does not apply again the changes its copy already holds', async () => {
    // A reader on the replica holds the stream up: the TRUNCATE of blocker waits for its lock.
    const reader = new pg.Client({ connectionString: pair.destinationUrl });
    await reader.connect();
    try {
      await reader.query('BEGIN; LOCK TABLE staging.blocker IN ACCESS SHARE MODE');
      await query(pair.sourceUrl, 'TRUNCATE blocker');
      await waitFor('the apply to wait for the lock', async () => {
        const rows = await query(
          pair.destinationUrl,
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'elt-apply' AND wait_event_type = 'Lock'",
        );
        return rows.length > 0;
      });
      // Committed on the source before the copy's snapshot, applied by the stream only after it.
      await query(pair.sourceUrl, "INSERT INTO events SELECT i, 'v' || i FROM generate_series(1, 50) i");
      const job = await queueResync(pair.destinationUrl, ['public.events']);
      await waitFor('the copy to be taken', async () => {
        const rows = await query<{ n: string }>(
          pair.destinationUrl,
          `SELECT count(*) AS n FROM staging._elt_resync_${job}`,
        ).catch(() => []);
        return rows[0]?.n === '51';
      });
      await reader.query('ROLLBACK');
      await waitForResync(pair.destinationUrl, job);
    } finally {
      await reader.end();
    }
    await pair.catchUp();
    const [replica] = await query<{ n: string }>(pair.destinationUrl, 'SELECT count(*) AS n FROM staging.events');
    expect(replica!.n).toBe('51');
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
  });
});

describe('an online resync in soft-delete mode', () => {
  const pair = replicationSuite({ start: false });

  beforeAll(async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE items (id int PRIMARY KEY, v text);
       INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 10) i;
       CREATE TABLE lines (v text);
       ALTER TABLE lines REPLICA IDENTITY FULL;
       INSERT INTO lines SELECT 'l' || i FROM generate_series(1, 5) i;`,
    );
    await pair.start({ ELT_DELETE_MODE: 'soft' });
  });

  it('keeps the rows marked deleted, with when they were deleted', async () => {
    await query(pair.sourceUrl, "DELETE FROM items WHERE id <= 3; DELETE FROM lines WHERE v = 'l1'");
    await pair.catchUp();
    const deletedRows = `SELECT 'items' AS t, id::text AS row, _synced_at::text AS at FROM staging.items WHERE _deleted
                         UNION ALL SELECT 'lines', v, _synced_at::text FROM staging.lines WHERE _deleted ORDER BY 1, 2`;
    const before = await query<{ t: string; row: string; at: string }>(pair.destinationUrl, deletedRows);
    expect(before.map((r) => `${r.t}:${r.row}`)).toEqual(['items:1', 'items:2', 'items:3', 'lines:l1']);
    // A damaged replica: a wrong value, a lost row, a row the source never had.
    await query(
      pair.destinationUrl,
      "UPDATE staging.items SET v = 'wrong' WHERE id = 5; DELETE FROM staging.items WHERE id = 6; INSERT INTO staging.items (id, v, _lsn, _synced_at, _deleted) VALUES (99, 'ghost', '0/0', now(), false)",
    );

    await waitForResync(pair.destinationUrl, await queueResync(pair.destinationUrl, ['public.items', 'public.lines']));
    await pair.catchUp();

    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { softDeleted: true })).toEqual([]);
    const after = await query<{ t: string; row: string; at: string }>(pair.destinationUrl, deletedRows);
    // The deleted rows are all still there, as they were; the row the source never had is now marked deleted.
    expect(after.filter((r) => r.row !== '99')).toEqual(before);
    expect(after.map((r) => `${r.t}:${r.row}`)).toContain('items:99');
  });
});
