/**
 * The verifier's soak: pgbench writes to the source for ELT_VERIFY_SOAK_SECONDS (60 by default;
 * 600 for the 10-minute run) while the background verifier of elt replicate loops over every
 * table with repair on, and the replica is intact: not one run may report a differing row nor
 * queue a repair. Then the replica is damaged in each way we know (rows deleted, changed, added,
 * a column nulled, a row of a table without a key deleted) while pgbench goes on, and the
 * verifier must find exactly those rows and repair them: the keyed table by its differing keys,
 * the table without a key whole.
 *
 * The figures (runs, rows checked, differing rows reported) are printed; they are not asserted
 * beyond "at least one run" and "no difference".
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query, StopWaiting, waitFor } from '../../harness/replication.js';
import { freePort } from '../../harness/pg-cluster.js';

const SOAK_SECONDS = Number(process.env.ELT_VERIFY_SOAK_SECONDS ?? 60);

/**
 * pgbench's TPC-B-like transaction plus a delete and a re-insert of accounts (hard deletes and
 * reused keys), on accounts from 1001 up: the test damages accounts below that in the replica,
 * and a write there would mend or move the damage before the verifier sees it.
 */
const SCRIPT = `\\set aid random(1001, 100000)
\\set other random(1001, 100000)
\\set bid random(1, 1)
\\set tid random(1, 10)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, clock_timestamp());
DELETE FROM pgbench_accounts WHERE aid = :other;
INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES (:other + 1, 1, :delta, 'reinserted') ON CONFLICT (aid) DO NOTHING;
END;
`;

describe('the verifier under pgbench load', () => {
  const pair = replicationSuite({ start: false });
  let dir = '';
  let loading = false;
  let load: Promise<void> = Promise.resolve();
  let loadFailure: string | null = null;
  let transactions = 0;
  let metricsPort = 0;

  /** pgbench in 10-second runs for as long as `loading`, at a bounded rate (the machine is shared). */
  const startLoad = () => {
    loading = true;
    load = (async () => {
      while (loading) {
        const { code, output } = await pgbench([
          '-n',
          '-c',
          '2',
          '-j',
          '1',
          '-R',
          '100',
          '-T',
          '10',
          '-f',
          join(dir, 'soak.sql'),
        ]);
        const done = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1] ?? Number.NaN);
        if (code !== 0 || !Number.isFinite(done)) {
          loadFailure = output;
          return;
        }
        transactions += done;
      }
    })();
  };
  const stopLoad = async () => {
    loading = false;
    await load;
    expect(loadFailure).toBeNull();
  };
  const pgbench = (args: string[]) =>
    new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn('pgbench', [...args, pair.sourceUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+(?:\\.\\d+)?)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  };
  const verifyJobs = () =>
    query<{ t: string; keys: { columns: string[]; values: string[][] } | null; state: string }>(
      pair.destinationUrl,
      `SELECT j.source_table AS t, j.keys, j.state FROM elt.resync_job_tables j JOIN elt.resync_jobs r ON r.id = j.job_id
       WHERE r.requested_by = 'elt verify' ORDER BY j.job_id, 1`,
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'elt-soak-'));
    await writeFile(join(dir, 'soak.sql'), SCRIPT);
    const init = await pgbench(['-i', '-q', '-s', '1']);
    expect(init.code, init.output).toBe(0);
    // pgbench_history has no key: replicated (and verified) by its whole rows.
    await query(pair.sourceUrl, 'ALTER TABLE pgbench_history REPLICA IDENTITY FULL');
    metricsPort = await freePort();
  });

  afterAll(async () => {
    loading = false;
    await load.catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const replicatorEnv = () => ({
    ELT_VERIFY_INTERVAL: '1',
    ELT_VERIFY_REPAIR: 'true',
    ELT_METRICS_PORT: String(metricsPort),
  });

  it(
    `reports no differing row for an intact replica over ${SOAK_SECONDS} s of pgbench`,
    async () => {
      await pair.start(replicatorEnv());
      startLoad();
      const until = Date.now() + SOAK_SECONDS * 1000;
      // Wait out the soak, failing early on the first false positive.
      await waitFor(
        'the soak to pass',
        async () => {
          if (loadFailure) throw new StopWaiting(`pgbench failed: ${loadFailure}`);
          if (/"outcome":"differs"/.test(pair.replicator.output()))
            throw new StopWaiting('the verifier reported a differing row for an intact replica');
          return Date.now() >= until;
        },
        SOAK_SECONDS * 1000 + 60_000,
        1_000,
      );
      // The run in progress at the end counts too.
      const runsBefore = runs(pair.replicator.output());
      await waitFor('one more verification run', async () => runs(pair.replicator.output()) > runsBefore, 600_000);
      const output = pair.replicator.output();
      const figures = {
        seconds: SOAK_SECONDS,
        pgbenchTransactions: transactions,
        runs: runs(output),
        rowsChecked: await metric('elt_verify_rows_checked_total'),
        tablesDiffering: (output.match(/"outcome":"differs"/g) ?? []).length,
        tablesFailed: (output.match(/"outcome":"failed"/g) ?? []).length,
        repairsQueued: (await verifyJobs()).length,
      };
      console.info(`verify soak: ${JSON.stringify(figures)}`);
      expect(figures.runs).toBeGreaterThan(0);
      expect(figures.tablesDiffering).toBe(0);
      expect(figures.repairsQueued).toBe(0);
      expect(await metric('elt_verify_rows_differing')).toBe(0);
    },
    SOAK_SECONDS * 1000 + 900_000,
  );

  it('finds exactly the rows damaged in the replica under load and repairs them: the keys, or the table without a key whole', async () => {
    // Damage the replica while the replicator is stopped, so that every run after it sees all of it.
    await pair.stop();
    const [history] = await query<{ h: string }>(
      pair.destinationUrl,
      'SELECT md5(ROW(tid, bid, aid, delta, mtime, filler)::text) AS h FROM staging.pgbench_history ORDER BY mtime LIMIT 1',
    );
    await query(
      pair.destinationUrl,
      `DELETE FROM staging.pgbench_accounts WHERE aid IN (5, 500);
       UPDATE staging.pgbench_accounts SET abalance = abalance + 1 WHERE aid = 7;
       UPDATE staging.pgbench_accounts SET filler = NULL WHERE aid = 9;
       INSERT INTO staging.pgbench_accounts (aid, bid, abalance, filler, _lsn) VALUES (-1, 1, 0, 'added', '0/1');
       DELETE FROM staging.pgbench_history WHERE md5(ROW(tid, bid, aid, delta, mtime, filler)::text) = '${history!.h}'`,
    );
    await pair.start(replicatorEnv());
    await waitFor(
      'the damaged tables to be repaired and found equal',
      async () => {
        if (loadFailure) throw new StopWaiting(`pgbench failed: ${loadFailure}`);
        const jobs = await verifyJobs();
        if (jobs.some((j) => j.state === 'failed')) throw new StopWaiting(`a repair failed: ${JSON.stringify(jobs)}`);
        const [equal] = await query<{ n: string }>(
          pair.destinationUrl,
          `SELECT count(*)::text AS n FROM elt.verify_results WHERE source_table IN ('pgbench_accounts', 'pgbench_history')
             AND outcome = 'equal' AND started_at > (SELECT max(finished_at) FROM elt.resync_jobs WHERE requested_by = 'elt verify')`,
        );
        return jobs.length >= 2 && jobs.every((j) => j.state === 'succeeded') && equal!.n === '2';
      },
      600_000,
    );
    const jobs = await verifyJobs();
    const keys = jobs
      .filter((j) => j.t === 'pgbench_accounts')
      .flatMap((j) => j.keys!.values.map((v) => v[0]))
      .sort();
    expect(keys).toEqual(['-1', '5', '500', '7', '9']);
    expect(jobs.filter((j) => j.t === 'pgbench_history').map((j) => j.keys)).toEqual([null]);
    expect(jobs.filter((j) => !['pgbench_accounts', 'pgbench_history'].includes(j.t))).toEqual([]);
    await stopLoad();
    await pair.catchUp();
    await pair.expectEqual();
  }, 900_000);
});

function runs(output: string): number {
  return (output.match(/verify: run finished/g) ?? []).length;
}
