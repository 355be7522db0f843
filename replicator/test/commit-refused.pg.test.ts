/**
 * A COMMIT the destination refuses. A deferred constraint trigger a user put on the replica
 * fails at COMMIT, after every statement of the destination transaction succeeded; the server
 * then ends the transaction. Nothing of it may stay: not the rows, not the applied position
 * (once recorded without its rows, the restart resumes past a source transaction never
 * applied; a commit queued behind the failed one ran outside any transaction and did that).
 * When the trigger is gone, the transaction arrives whole.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';

describe('a COMMIT the destination refuses', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (0, 'before')`,
  });

  it('records nothing of the transaction, and applies it once the replica takes it', async () => {
    await pair.start();
    await pair.catchUp();
    await query(
      pair.destinationUrl,
      `CREATE FUNCTION public.refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.v = 'bad' THEN RAISE EXCEPTION 'bad row refused at commit'; END IF;
         RETURN NULL;
       END $$;
       CREATE CONSTRAINT TRIGGER refuse_bad AFTER INSERT OR UPDATE ON staging.t
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse_bad()`,
    );
    const appliedBefore = await appliedLsn(pair.destinationUrl);
    const source = new pg.Client({ connectionString: pair.sourceUrl });
    await source.connect();
    let refusedEnd: string;
    try {
      await source.query(`BEGIN; INSERT INTO t VALUES (1, 'bad'), (2, 'good'); COMMIT`);
      refusedEnd = (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
      // Later transactions keep the stream busy while the refused one is retried.
      for (let id = 3; id <= 20; id++) await source.query(`INSERT INTO t VALUES (${id}, 'after')`);
    } finally {
      await source.end();
    }
    await waitFor(
      'the replicator to meet the refused COMMIT',
      async () => /bad row refused at commit/.test(pair.output()),
      60_000,
    );
    // Attempts meet it again (a failure that repeats ends the process after a few); none records the transaction.
    await waitFor(
      'a second refusal',
      async () => (pair.output().match(/bad row refused at commit/g) ?? []).length >= 2,
      120_000,
    );
    await pair.stop();
    const applied = await appliedLsn(pair.destinationUrl);
    expect(await lsnBefore(pair.destinationUrl, applied, refusedEnd)).toBe(true);
    expect(applied).toBe(appliedBefore);
    expect(await query(pair.destinationUrl, 'SELECT id FROM staging.t WHERE id > 0')).toEqual([]);

    await query(pair.destinationUrl, 'DROP TRIGGER refuse_bad ON staging.t');
    await pair.start();
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
  });
});

async function appliedLsn(url: string): Promise<string> {
  const rows = await query<{ lsn: string }>(url, 'SELECT applied_lsn::text AS lsn FROM elt.replication_state');
  return rows[0]!.lsn;
}

async function lsnBefore(url: string, a: string, b: string): Promise<boolean> {
  const rows = await query<{ before: boolean }>(url, 'SELECT $1::pg_lsn < $2::pg_lsn AS before', [a, b]);
  return rows[0]!.before;
}
