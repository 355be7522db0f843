/**
 * Source DDL while streaming: staging follows every column change and new tables, no
 * change in flight is lost, and where values need it the table is resynced online.
 */
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { outputTail, query, StopWaiting, waitFor } from '../../harness/replication.js';
import { queueResync, waitForResync } from './queue-resync.js';

describe('schema changes on the source while streaming', () => {
  const pair = replicationSuite({
    sourceSql:
      "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2)); INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, 500) i;",
  });

  const settled = async () => {
    await pair.catchUp();
    await waitFor('resync jobs to finish', async () => {
      const rows = await query<{ n: string; failed: string }>(
        pair.destinationUrl,
        "SELECT count(*) FILTER (WHERE state IN ('queued', 'running')) AS n, count(*) FILTER (WHERE state = 'failed') AS failed FROM elt.resync_jobs",
      );
      if (rows[0]!.failed !== '0') {
        throw new StopWaiting(
          `a resync job failed: ${JSON.stringify(await query(pair.destinationUrl, 'SELECT * FROM elt.resync_jobs'))}\n${outputTail(pair.replicator)}`,
        );
      }
      return rows[0]!.n === '0';
    });
    await pair.catchUp();
  };

  const columns = async (table: string) =>
    (
      await query<{ c: string }>(
        pair.destinationUrl,
        `SELECT attname || ' ' || format_type(atttypid, atttypmod) AS c FROM pg_attribute WHERE attrelid = 'staging.${table}'::regclass AND attnum > 0 AND NOT attisdropped AND attname NOT LIKE '\\_%' ORDER BY attnum`,
      )
    ).map((r) => r.c);

  it('follows ADD COLUMN with and without a default', async () => {
    await query(pair.sourceUrl, "ALTER TABLE items ADD COLUMN color text; UPDATE items SET color = 'red' WHERE id = 1");
    await query(
      pair.sourceUrl,
      "ALTER TABLE items ADD COLUMN qty int NOT NULL DEFAULT 5; INSERT INTO items VALUES (501, 'new', 1.5, 'blue', 9)",
    );
    await query(
      pair.sourceUrl,
      'ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT clock_timestamp(); UPDATE items SET price = 2 WHERE id = 2',
    );
    await settled();
    expect(await columns('items')).toEqual([
      'id integer',
      'name text',
      'price numeric(8,2)',
      'color text',
      'qty integer',
      'seen timestamp with time zone',
    ]);
    await pair.expectEqual();
  });

  it('follows RENAME COLUMN, DROP COLUMN and ALTER COLUMN TYPE', async () => {
    // One change at a time, each applied before the next: the replica follows each by attnum while
    // the catalog still proves it. (A replicator far behind several changes finds the catalog moved
    // on, follows them by name and resyncs: values right, but a renamed column may then come last.)
    await query(
      pair.sourceUrl,
      "ALTER TABLE items RENAME COLUMN name TO title; UPDATE items SET title = 'renamed' WHERE id = 3",
    );
    await settled();
    await query(pair.sourceUrl, 'ALTER TABLE items DROP COLUMN color; DELETE FROM items WHERE id = 4');
    await settled();
    await query(
      pair.sourceUrl,
      "ALTER TABLE items ALTER COLUMN price TYPE numeric(12,4) USING price * 1.0001; UPDATE items SET title = 'retyped' WHERE id = 5",
    );
    await settled();
    expect(await columns('items')).toEqual([
      'id integer',
      'title text',
      'price numeric(12,4)',
      'qty integer',
      'seen timestamp with time zone',
    ]);
    await pair.expectEqual();
  });

  it('replicates a table created after the snapshot, rows written before its first change included', async () => {
    await query(
      pair.sourceUrl,
      "CREATE TABLE gadgets (id bigint PRIMARY KEY, label varchar(20), tags text[]); INSERT INTO gadgets SELECT i, 'g' || i, ARRAY['x'] FROM generate_series(1, 300) i;",
    );
    await query(pair.sourceUrl, "UPDATE gadgets SET label = 'changed' WHERE id = 7; DELETE FROM gadgets WHERE id = 8;");
    await settled();
    expect(await columns('gadgets')).toEqual(['id bigint', 'label character varying(20)', 'tags text[]']);
    await pair.expectEqual();
    const [state] = await query<{ state: string }>(
      pair.destinationUrl,
      "SELECT state FROM elt.tables WHERE source_table = 'gadgets'",
    );
    expect(state?.state).toBe('streaming');
  });

  it('stops a table that has or is left with no columns alone, with the reason, while the others stream', async () => {
    await query(
      pair.sourceUrl,
      'CREATE TABLE pairs (a int, b int); ALTER TABLE pairs REPLICA IDENTITY FULL; INSERT INTO pairs VALUES (1, 2);',
    );
    await settled();
    expect((await pair.tableState('pairs'))?.state).toBe('streaming');
    // Every column dropped, then written to, in one transaction with a change of another table.
    await query(
      pair.sourceUrl,
      `BEGIN; ALTER TABLE pairs DROP COLUMN a, DROP COLUMN b; INSERT INTO pairs DEFAULT VALUES;
       UPDATE gadgets SET label = 'beside pairs' WHERE id = 2; COMMIT;
       CREATE TABLE placeholder (); ALTER TABLE placeholder REPLICA IDENTITY FULL; INSERT INTO placeholder DEFAULT VALUES;
       UPDATE gadgets SET label = 'after placeholder' WHERE id = 3;`,
    );
    await pair.catchUp();
    for (const table of ['pairs', 'placeholder']) {
      const state = await pair.tableState(table);
      expect(state?.state, table).toBe('error');
      expect(state?.last_error, table).toMatch(/has no columns to copy.*Add a column to it/);
    }
    const labels = await query<{ label: string }>(
      pair.destinationUrl,
      'SELECT label FROM staging.gadgets WHERE id IN (2, 3) ORDER BY id',
    );
    expect(labels.map((r) => r.label)).toEqual(['beside pairs', 'after placeholder']);
    expect(pair.replicator.output()).not.toMatch(/replication attempt failed/);
    // A resync says the same, with what to do, and leaves the table in error.
    const job = await queueResync(pair.destinationUrl, ['public.pairs']);
    await expect(waitForResync(pair.destinationUrl, job)).rejects.toThrow(
      /failed: public\.pairs: The source table public\.pairs has no columns to copy.*Add a column to it/,
    );
    const after = await pair.tableState('pairs');
    expect(after?.state).toBe('error');
    expect(after?.last_error).toMatch(
      /^resync failed: The source table public\.pairs has no columns to copy.*Add a column to it/,
    );
  });
});
