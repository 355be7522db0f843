/**
 * An attempt that ends while the destination commits: the stream fails (the source ended the
 * replication connection, as a walsender timeout does under load) while the commit timer's
 * destination transaction is still applying a source transaction. The end of the attempt must
 * wait for that commit; a ROLLBACK slipped between its statements aborted the changes and let
 * the applied position be recorded without them, so the restart resumed past a transaction
 * that was never applied (seen as a 256 MB value lost in big-values under load).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';

describe('an attempt that ends while the destination commits', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (0, 'before')`,
  });

  const applyWaitsForLock = () =>
    waitFor('the apply to wait for the lock', async () => {
      const rows = await query<{ n: string }>(
        pair.destinationUrl,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'elt-apply' AND wait_event_type = 'Lock'",
      );
      return rows[0]!.n !== '0';
    });
  /** The source ends the replication connection, as a walsender timeout does under load. */
  const endStream = () =>
    query(
      pair.sourceUrl,
      "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'elt_slot' AND active_pid IS NOT NULL",
    );
  /** The attempt has ended: its heartbeat stops beating. */
  const attemptEnded = () =>
    waitFor(
      'the attempt to end',
      async () =>
        (
          await query<{ quiet: boolean }>(
            pair.destinationUrl,
            "SELECT heartbeat_at < now() - interval '12 seconds' AS quiet FROM elt.replication_state",
          )
        )[0]!.quiet,
      60_000,
    );

  it('leaves the source transaction applied or not applied, never recorded without its rows', async () => {
    // The commit is queued work (the quiet commit's or the timer's), not awaited inside the stream's handler.
    await pair.start({ ELT_BATCH_MAX_MS: '300' });
    await pair.catchUp();
    const lock = new pg.Client({ connectionString: pair.destinationUrl });
    await lock.connect();
    try {
      for (let round = 1; round <= 3; round++) {
        // Hold the replica so that the destination transaction waits in the middle of applying.
        await lock.query('BEGIN; LOCK TABLE staging.t IN EXCLUSIVE MODE');
        await query(pair.sourceUrl, `INSERT INTO t VALUES (${round}, 'round ${round}')`);
        await applyWaitsForLock();
        await endStream();
        // The attempt has ended while its destination transaction still waits.
        await attemptEnded();
        await lock.query('COMMIT');
        await pair.catchUp();
        expect(await compareReplica(pair.sourceUrl, pair.destinationUrl), `round ${round}`).toEqual([]);
      }
    } finally {
      await lock.end();
    }
  });

  it('ends at once though more arrived from the slot behind the waiting commit', async () => {
    const lock = new pg.Client({ connectionString: pair.destinationUrl });
    await lock.connect();
    try {
      await lock.query('BEGIN; LOCK TABLE staging.t IN EXCLUSIVE MODE');
      await query(pair.sourceUrl, `INSERT INTO t VALUES (10, 'waits')`);
      await applyWaitsForLock();
      // A later transaction reaches the replicator while the commit waits: its turn comes after the commit's.
      await query(pair.sourceUrl, `INSERT INTO t VALUES (11, 'behind')`);
      const lsn = (await query<{ lsn: string }>(pair.sourceUrl, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
      await waitFor('the source to send it', async () => {
        const rows = await query<{ sent: boolean }>(
          pair.sourceUrl,
          `SELECT sent_lsn >= $1::pg_lsn AS sent FROM pg_stat_replication WHERE application_name = 'elt-stream'`,
          [lsn],
        );
        return rows[0]?.sent === true;
      });
      await endStream();
      // The attempt ends while the commit still waits: its heartbeat stops.
      await attemptEnded();
      await lock.query('COMMIT');
      await pair.catchUp();
      expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    } finally {
      await lock.end();
    }
  });
});
