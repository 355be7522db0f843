/**
 * A change the replica refuses for good (a CHECK someone added to a replica table, a NOT
 * NULL, an invalid value) stops that table alone: state `error` with the reason, counted in
 * the metrics, its later changes skipped (also after a restart) until it is resynced. The
 * other tables of the same source transaction go on, exactly once, and nothing is retried.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/pg-cluster.js';
import { metricValue } from '../../harness/metrics.js';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';
import { INTERRUPTED_RESYNC_REASON } from '../src/state/resync-jobs.js';
import { queueResync, waitForResync } from './queue-resync.js';

describe('a change the replica refuses', () => {
  const pair = replicationSuite({ start: false });
  let metricsPort: number;

  const start = async () => {
    metricsPort = await freePort();
    await pair.start({ ELT_METRICS_PORT: String(metricsPort) });
  };
  const tableState = (table: string) => pair.tableState(table);
  const metric = (series: string) => metricValue(metricsPort, series);
  const balance = async (url: string, table: string, id: number) =>
    (await query<{ balance: number }>(url, `SELECT balance FROM ${table} WHERE id = $1`, [id]))[0]?.balance;

  beforeAll(async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
       INSERT INTO accounts SELECT i, 100 FROM generate_series(1, 10) i;
       CREATE TABLE audit (id int PRIMARY KEY, what text);`,
    );
    await start();
  });

  it('stops that table alone while the other tables of the same transaction go on', async () => {
    // Someone adds a rule to the replica that the source's data breaks.
    await query(
      pair.destinationUrl,
      'ALTER TABLE staging.accounts ADD CONSTRAINT small_balance CHECK (balance < 150) NOT VALID',
    );
    await query(
      pair.sourceUrl,
      "BEGIN; UPDATE accounts SET balance = 200 WHERE id = 1; UPDATE accounts SET balance = 50 WHERE id = 2; INSERT INTO audit VALUES (1, 'same transaction'); COMMIT;",
    );
    await query(
      pair.sourceUrl,
      "BEGIN; UPDATE accounts SET balance = 60 WHERE id = 3; INSERT INTO audit VALUES (2, 'later'); COMMIT;",
    );
    await pair.catchUp();

    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['accounts'] })).toEqual([]);
    expect(await tableState('audit')).toEqual({ state: 'streaming', last_error: null });
    const accounts = await tableState('accounts');
    expect(accounts!.state).toBe('error');
    expect(accounts!.last_error).toMatch(/small_balance.*SQLSTATE 23514/);
    // The refused chunk is rolled back whole and the table's later changes are skipped.
    expect(await balance(pair.destinationUrl, 'staging.accounts', 2)).toBe(100);
    expect(await balance(pair.destinationUrl, 'staging.accounts', 3)).toBe(100);
    expect(await metric('elt_errors_total{kind="sqlstate_23514"}')).toBe(1);
    await waitFor(
      'the table state in the metrics',
      async () => (await metric('elt_table_state{table="public.accounts",state="error"}')) === 1,
      30_000,
    );
    expect(pair.replicator.output()).not.toMatch(/replication attempt failed/);
  });

  it('keeps the table stopped across a restart', async () => {
    await pair.stop();
    await start();
    await query(
      pair.sourceUrl,
      "BEGIN; UPDATE accounts SET balance = 70 WHERE id = 4; INSERT INTO audit VALUES (3, 'after the restart'); COMMIT;",
    );
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['accounts'] })).toEqual([]);
    expect(await balance(pair.destinationUrl, 'staging.accounts', 4)).toBe(100);
    expect((await tableState('accounts'))!.state).toBe('error');
  });

  it('keeps the table stopped when the source renames it, and renames it back', async () => {
    await query(
      pair.sourceUrl,
      "BEGIN; ALTER TABLE accounts RENAME TO accounts_v2; UPDATE accounts_v2 SET balance = 80 WHERE id = 5; INSERT INTO audit VALUES (5, 'renamed'); COMMIT;",
    );
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['accounts_v2'] })).toEqual([]);
    expect(await balance(pair.destinationUrl, 'staging.accounts_v2', 5)).toBe(100);
    expect((await tableState('accounts_v2'))!.state).toBe('error');
    await query(
      pair.sourceUrl,
      'ALTER TABLE accounts_v2 RENAME TO accounts; UPDATE accounts SET balance = 81 WHERE id = 5',
    );
    await pair.catchUp();
    expect(await balance(pair.destinationUrl, 'staging.accounts', 5)).toBe(100);
    expect((await tableState('accounts'))!.state).toBe('error');
  });

  it('keeps the table stopped when a restart interrupts its resync, and in error when that resync is cancelled', async () => {
    // An open transaction that has written: the resync's snapshot (from a temporary slot) waits
    // for it, so the copy cannot finish before the kill.
    const blocker = new pg.Client(pair.sourceUrl);
    await blocker.connect();
    try {
      await blocker.query("BEGIN; INSERT INTO audit VALUES (100, 'open')");
      const jobId = await queueResync(pair.destinationUrl, ['public.accounts']);
      await waitFor('the resync to start', async () => (await tableState('accounts'))?.state === 'resyncing', 60_000);
      await pair.stop('SIGKILL');
      await blocker.query('ROLLBACK');
      // While elt is down: a change to the table, and the job cancelled as the API does for a running one.
      await query(
        pair.sourceUrl,
        "BEGIN; UPDATE accounts SET balance = 90 WHERE id = 6; INSERT INTO audit VALUES (4, 'down'); COMMIT;",
      );
      await query(pair.destinationUrl, 'UPDATE elt.resync_jobs SET cancel_requested = true WHERE id = $1', [jobId]);

      await start();
      await pair.catchUp();
      expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['accounts'] })).toEqual([]);
      expect(await balance(pair.destinationUrl, 'staging.accounts', 6)).toBe(100);
      expect(await tableState('accounts')).toEqual({ state: 'error', last_error: INTERRUPTED_RESYNC_REASON });
      const [job] = await query<{ state: string }>(
        pair.destinationUrl,
        'SELECT state FROM elt.resync_jobs WHERE id = $1',
        [jobId],
      );
      expect(job!.state).toBe('cancelled');
    } finally {
      await blocker.end();
    }
  });

  it('recovers the table with a resync once the cause is gone', async () => {
    await query(pair.destinationUrl, 'ALTER TABLE staging.accounts DROP CONSTRAINT small_balance');
    await waitForResync(pair.destinationUrl, await queueResync(pair.destinationUrl, ['public.accounts']));
    await query(pair.sourceUrl, 'UPDATE accounts SET balance = 80 WHERE id = 5');
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    expect((await tableState('accounts'))!.state).toBe('streaming');
  });
});
