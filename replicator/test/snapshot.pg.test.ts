/**
 * No gap, no overlap: changes committed while the initial copy runs arrive exactly once.
 * Writes keep landing on the source from before the slot exists until the snapshot is
 * done; afterwards the replica must equal the source.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query, waitFor } from '../../harness/replication.js';

describe('a snapshot under concurrent writes', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, note text);
       INSERT INTO accounts SELECT i, 1000, repeat('x', 100) FROM generate_series(1, 300000) i;
       CREATE TABLE ledger (at timestamptz NOT NULL DEFAULT clock_timestamp(), account int, amount bigint);
       ALTER TABLE ledger REPLICA IDENTITY FULL;`,
  });

  it('applies every change committed during the copy exactly once', async () => {
    const replicator = pair.launch();
    let writesWhileCopying = 0;
    let i = 0;
    for (;;) {
      i++;
      // A transfer: two updates and an append, in one transaction.
      await query(
        pair.sourceUrl,
        `BEGIN;
         UPDATE accounts SET balance = balance - 7 WHERE id = ${1 + ((i * 7919) % 300000)};
         UPDATE accounts SET balance = balance + 7 WHERE id = ${1 + ((i * 104729) % 300000)};
         INSERT INTO accounts VALUES (${300000 + i}, ${i}, 'opened during the copy');
         INSERT INTO ledger (account, amount) VALUES (${i}, 7);
         COMMIT;`,
      );
      const [state] = await query<{ slot: boolean; phase: string | null }>(
        pair.destinationUrl,
        "SELECT true AS slot, (SELECT phase FROM elt.replication_state WHERE slot_name = 'elt_slot') AS phase",
      ).catch(() => [{ slot: false, phase: null }]);
      if (state?.phase === 'snapshotting') writesWhileCopying++;
      if (state?.phase === 'streaming') break;
      expect(replicator.child.exitCode, replicator.output()).toBeNull();
    }
    expect(writesWhileCopying).toBeGreaterThan(0);
    await pair.catchUp();
    await pair.expectEqual();
    const [sums] = await query<{ total: string }>(
      pair.destinationUrl,
      'SELECT sum(balance)::text AS total FROM staging.accounts',
    );
    const [expected] = await query<{ total: string }>(
      pair.sourceUrl,
      'SELECT sum(balance)::text AS total FROM accounts',
    );
    expect(sums!.total).toBe(expected!.total);
  });
});

describe('stopping before the stream starts', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 1000) i;`,
  });

  it('a SIGTERM during the snapshot ends the process once the snapshot is done, and the next start streams', async () => {
    // An open transaction that has written: creating the slot waits for it, so the SIGTERM is
    // sure to arrive before the snapshot ends.
    const blocker = new pg.Client(pair.sourceUrl);
    await blocker.connect();
    try {
      await blocker.query('BEGIN; CREATE TEMP TABLE elt_test_blocker (i int)');
      const replicator = pair.launch();
      await waitFor(
        'the slot creation to wait for the open transaction',
        async () =>
          (
            await query(
              pair.sourceUrl,
              "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'walsender' AND wait_event = 'transactionid'",
            )
          ).length > 0,
        60_000,
      );
      const exited = replicator.kill('SIGTERM');
      await blocker.query('ROLLBACK');
      expect(await exited, replicator.output()).toBe(0);
      expect(replicator.output()).not.toContain('"msg":"streaming changes"');
    } finally {
      await blocker.end();
    }
    await pair.start();
    await query(pair.sourceUrl, "INSERT INTO items VALUES (1001, 'after the restart')");
    await pair.catchUp();
    await pair.expectEqual();
  });
});
