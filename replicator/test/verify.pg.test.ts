/**
 * elt verify under a running write workload: with the replica intact it reports no difference
 * (changes in flight, hard deletes included, are never mistaken for one); with the replica
 * damaged in the destination it reports exactly the damaged keys; with ELT_VERIFY_REPAIR the
 * background verifier of elt replicate queues a resync of just those keys (of the whole table
 * for a table without a key), the rest of the table untouched, and the replica ends equal; a
 * repair killed with SIGKILL before its swap runs again at the next start. A partition
 * truncated on the source (which the stream never carries) is repaired by the partition watch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query, runElt, StopWaiting, waitFor } from '../../harness/replication.js';
import { freePort } from '../../harness/pg-cluster.js';
import { EXIT } from '../src/cli/exit-codes.js';
import { enqueueResync } from '../src/state/resync-queue.js';
import pg from 'pg';

interface Report {
  tables: {
    schema: string;
    table: string;
    outcome: string;
    rowsChecked: number;
    rowsDiffering: number;
    differences: { kind: string; key: Record<string, string>; rows: number }[];
  }[];
}

describe('elt verify', () => {
  const pair = replicationSuite({ start: false });
  let env: Record<string, string>;
  let writing = false;
  let writes = 0;
  let failure: unknown = null;
  let running: Promise<void> = Promise.resolve();

  /**
   * Inserts, updates and deletes on every table, away from the rows the tests damage (ids up to
   * 100, and 40001): items ids 41,000 to 59,999. (It used to reach 40001 after 3,000 writes,
   * which a slow run got to: the source deleted the row the test had damaged, and the verifier
   * rightly found one difference fewer than the test expected.)
   */
  const writer = async () => {
    while (writing) {
      const i = writes + 1;
      const id = 41_000 + ((i * 7919) % 18_999);
      await query(
        pair.sourceUrl,
        `BEGIN;
         UPDATE items SET qty = qty + 1, note = 'w${i}' WHERE id = ${id};
         DELETE FROM items WHERE id = ${id + 1};
         INSERT INTO items VALUES (${100_000 + i}, 'new ${i}', ${i}, NULL);
         INSERT INTO tags VALUES ('t${i}', ${i});
         DELETE FROM tags WHERE label = 't${i - 3}';
         UPDATE events SET v = 'w${i}' WHERE id = ${200 + (i % 100)};
         COMMIT;`,
      );
      writes++;
    }
  };
  const startWriting = async () => {
    writing = true;
    const before = writes;
    running = writer().catch((error: unknown) => {
      failure = error;
    });
    await waitFor(
      'the workload to write',
      async () => {
        if (failure) throw new StopWaiting(failure instanceof Error ? failure.message : JSON.stringify(failure));
        return writes > before + 3;
      },
      60_000,
    );
  };
  const stopWriting = async () => {
    writing = false;
    await running;
    expect(failure).toBeNull();
  };
  const verify = async (args: string[] = []) => {
    const { code, output } = await runElt(['verify', '--json', ...args], env);
    const json = output.slice(output.indexOf('{\n'));
    try {
      return { code, report: JSON.parse(json.slice(0, json.lastIndexOf('\n}') + 2)) as Report, output };
    } catch {
      throw new Error(`elt verify printed no JSON report (exit ${code}):\n${output}`);
    }
  };
  const table = (report: Report, name: string) => report.tables.find((t) => `${t.schema}.${t.table}` === name)!;

  beforeAll(async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, note text);
       INSERT INTO items SELECT i, 'item ' || i, i % 17, 'note ' || i FROM generate_series(1, 60000) i;
       CREATE TABLE tags (label text, n int);
       ALTER TABLE tags REPLICA IDENTITY FULL;
       INSERT INTO tags SELECT 'fixed ' || i, i FROM generate_series(1, 500) i;
       INSERT INTO tags VALUES ('twice', 2), ('twice', 2);
       CREATE TABLE events (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
       CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       INSERT INTO events SELECT i, CASE WHEN i <= 100 THEN date '2025-05-01' ELSE date '2026-05-01' END, 'v' || i FROM generate_series(1, 300) i;`,
    );
    env = pair.env();
    await pair.start();
  });

  afterAll(async () => {
    writing = false;
    // The workload's own failure is reported by the test that waited on it.
    await running.catch(() => undefined);
  });

  it('reports no difference while writes go on and the replica is intact', async () => {
    await startWriting();
    const { code, report, output } = await verify();
    await stopWriting();
    expect(code, output).toBe(EXIT.ok);
    expect(report.tables.map((t) => [`${t.schema}.${t.table}`, t.outcome, t.rowsDiffering])).toEqual([
      ['public.events', 'equal', 0],
      ['public.items', 'equal', 0],
      ['public.tags', 'equal', 0],
    ]);
    expect(table(report, 'public.items').rowsChecked).toBeGreaterThan(50_000);
  });

  it('refuses, with what to do, a slot no replicator streams, and a table it does not replicate', async () => {
    const other = await runElt(['verify'], { ...env, ELT_SLOT: 'other_slot' });
    expect(other.code).toBe(EXIT.failed);
    expect(other.output).toContain('The destination has no replication state for slot other_slot');
    const unknown = await runElt(['verify', '--tables', 'public.nope'], env);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.output).toContain('Not replicated by slot elt_slot: public.nope.');
  });

  it('finds exactly the rows damaged in the replica: deleted, changed, added, a column nulled', async () => {
    await query(
      pair.destinationUrl,
      `DELETE FROM staging.items WHERE id IN (5, 40001);
       UPDATE staging.items SET name = 'damaged' WHERE id = 7;
       UPDATE staging.items SET note = NULL WHERE id = 9;
       INSERT INTO staging.items (id, name, qty, note, _lsn) VALUES (-1, 'added', 0, NULL, '0/1');
       DELETE FROM staging.tags WHERE ctid = (SELECT min(ctid) FROM staging.tags WHERE label = 'twice');
       UPDATE staging.events SET v = 'damaged' WHERE id = 50;`,
    );
    const [twice] = await query<{ h: string }>(
      pair.sourceUrl,
      "SELECT md5(ROW(label, n)::text) AS h FROM tags WHERE label = 'twice' LIMIT 1",
    );
    await startWriting();
    const { code, report, output } = await verify();
    await stopWriting();
    expect(code, output).toBe(EXIT.differs);
    const items = table(report, 'public.items');
    expect(items.differences.map((d) => [d.kind, d.key.id]).sort()).toEqual([
      ['differs', '7'],
      ['differs', '9'],
      ['extra', '-1'],
      ['missing', '40001'],
      ['missing', '5'],
    ]);
    expect(items.rowsDiffering).toBe(5);
    expect(table(report, 'public.tags').differences).toEqual([
      { kind: 'missing', key: { row_md5: twice!.h }, rows: 1 },
    ]);
    expect(table(report, 'public.events').differences).toEqual([
      { kind: 'differs', key: { id: '50', at: '2025-05-01' }, rows: 1 },
    ]);

    const stored = await query<{ t: string; outcome: string; n: string }>(
      pair.destinationUrl,
      "SELECT source_table AS t, outcome, rows_differing::text AS n FROM elt.verify_results WHERE slot_name = 'elt_slot' ORDER BY 1",
    );
    expect(stored).toEqual([
      { t: 'events', outcome: 'differs', n: '1' },
      { t: 'items', outcome: 'differs', n: '5' },
      { t: 'tags', outcome: 'differs', n: '1' },
    ]);
    const only = await verify(['--tables', 'public.tags']);
    expect(only.report.tables.map((t) => t.table)).toEqual(['tags']);
  });

  /** _synced_at and _lsn of the items rows no test writes (ids 10 to 999 but 11 to 13) and the repairs must not touch. */
  const untouched = () =>
    query<{ id: string; at: string; lsn: string }>(
      pair.destinationUrl,
      `SELECT id::text, _synced_at::text AS at, _lsn::text AS lsn FROM staging.items
       WHERE id BETWEEN 10 AND 999 AND id NOT BETWEEN 11 AND 13 ORDER BY id`,
    );

  it('repairs what differs with ELT_VERIFY_REPAIR: the background verifier queues resyncs of the differing keys, and the replica ends equal', async () => {
    await pair.stop();
    const before = await untouched();
    expect(before).toHaveLength(987);
    const metricsPort = await freePort();
    const replicator = await pair.start({
      ELT_VERIFY_INTERVAL: '1',
      ELT_VERIFY_REPAIR: 'true',
      ELT_METRICS_PORT: String(metricsPort),
    });
    const metric = async (line: RegExp) =>
      line.exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1];
    await startWriting();
    await waitFor(
      'the damaged tables to be repaired',
      async () => {
        const rows = await query<{ n: string }>(
          pair.destinationUrl,
          `SELECT count(*) AS n FROM elt.resync_job_tables j JOIN elt.resync_jobs r ON r.id = j.job_id
         WHERE r.requested_by = 'elt verify' AND j.state = 'succeeded'`,
        );
        return rows[0]!.n === '3';
      },
      300_000,
    );
    expect(replicator.output()).toMatch(
      /"table":"public.items","outcome":"differs","rowsChecked":\d+,"rowsDiffering":5,"reason":null,"repairJobId":\d+/,
    );
    // Keyed tables: just the differing keys; tags has no key: the whole table.
    const jobs = await query<{ t: string; keys: { columns: string[]; values: string[][] } | null; n: string }>(
      pair.destinationUrl,
      `SELECT j.source_table AS t, j.keys, j.rows_copied::text AS n FROM elt.resync_job_tables j
       JOIN elt.resync_jobs r ON r.id = j.job_id WHERE r.requested_by = 'elt verify' ORDER BY 1`,
    );
    expect(jobs.map((j) => [j.t, j.keys?.columns, j.keys?.values.map((v) => v.join('/')).sort()])).toEqual([
      ['events', ['id', 'at'], ['50/2025-05-01']],
      ['items', ['id'], ['-1', '40001', '5', '7', '9']],
      ['tags', undefined, undefined],
    ]);
    // The key repairs copied the rows of their keys the source has (items -1 it has not); tags was copied whole.
    expect(jobs.map((j) => Number(j.n))).toEqual([1, 4, expect.any(Number)]);
    expect(Number(jobs[2]!.n)).toBeGreaterThan(500);
    // The rest of items was not copied again: its rows are as the stream wrote them.
    expect(await untouched()).toEqual(before);
    // The next run finds the repaired table equal.
    await waitFor(
      'the verifier to find items equal',
      async () => (await metric(/^elt_verify_rows_differing\{table="public.items"\} (\d+)$/m)) === '0',
      120_000,
    );
    expect(Number(await metric(/^elt_verify_rows_checked_total\{table="public.items"\} (\d+)$/m))).toBeGreaterThan(
      100_000,
    );
    await stopWriting();
    await pair.catchUp();
    await pair.expectEqual();
    const { code, output } = await verify();
    expect(code, output).toBe(EXIT.ok);
  }, 480_000);

  it('a key repair killed with SIGKILL before its swap is copied again at the next start, and the replica ends equal', async () => {
    await pair.restart({ ELT_VERIFY_INTERVAL: '0', ELT_VERIFY_REPAIR: 'false' });
    await query(
      pair.destinationUrl,
      "UPDATE staging.items SET name = 'damaged' WHERE id = 11; DELETE FROM staging.items WHERE id = 12; UPDATE staging.items SET qty = -1 WHERE id = 13",
    );
    const before = await untouched();
    await startWriting();
    // An open transaction on the source that has written: the repair's snapshot (a temporary
    // slot) waits for it, so the repair is running and nothing of it is swapped in at the kill.
    const blocker = new pg.Client({ connectionString: pair.sourceUrl });
    await blocker.connect();
    let jobId: number | null = null;
    try {
      await blocker.query('BEGIN; CREATE TEMP TABLE elt_test_blocker (i int)');
      const queue = new pg.Client({ connectionString: pair.destinationUrl });
      await queue.connect();
      try {
        const keys = { columns: ['id'], values: [['11'], ['12'], ['13']] };
        jobId = await enqueueResync(queue, 'elt_slot', [{ schema: 'public', table: 'items', keys }], 'elt verify');
      } finally {
        await queue.end();
      }
      expect(jobId).not.toBeNull();
      await waitFor(
        'the repair to start',
        async () =>
          (
            await query<{ state: string }>(
              pair.destinationUrl,
              'SELECT state FROM elt.resync_job_tables WHERE job_id = $1',
              [jobId],
            )
          )[0]?.state === 'running',
        120_000,
      );
      expect(await pair.stop('SIGKILL')).toBe('SIGKILL');
    } finally {
      await blocker.end();
    }
    // Nothing of the repair was swapped in; the next start copies again and swaps.
    const [damaged] = await query<{ name: string }>(
      pair.destinationUrl,
      'SELECT name FROM staging.items WHERE id = 11',
    );
    expect(damaged!.name).toBe('damaged');
    await pair.start({ ELT_VERIFY_INTERVAL: '0', ELT_VERIFY_REPAIR: 'false' });
    await waitFor(
      'the repair to run again and succeed',
      async () => {
        const [job] = await query<{ state: string }>(
          pair.destinationUrl,
          'SELECT state FROM elt.resync_jobs WHERE id = $1',
          [jobId],
        );
        if (job!.state === 'failed') throw new StopWaiting(`the repair failed: ${pair.replicator.output()}`);
        return job!.state === 'succeeded';
      },
      120_000,
    );
    await stopWriting();
    await pair.catchUp();
    await pair.expectEqual();
    expect(await untouched()).toEqual(before);
    const shadows = await query(
      pair.destinationUrl,
      "SELECT 1 FROM pg_tables WHERE tablename LIKE '\\_elt\\_resync\\_%'",
    );
    expect(shadows).toEqual([]);
  }, 300_000);

  it('a partition truncated on the source: the partition watch resyncs the table, and verify finds it equal', async () => {
    await query(pair.sourceUrl, 'TRUNCATE events_2025');
    // Before the watch repairs it, verify may see the truncated rows as extra in the replica, and nothing else.
    const early = await verify(['--tables', 'public.events']);
    for (const d of table(early.report, 'public.events').differences)
      expect([d.kind, Number(d.key.id) <= 100]).toEqual(['extra', true]);
    await waitFor(
      'the truncated partition to be resynced',
      async () => {
        const [n] = await query<{ n: string }>(
          pair.destinationUrl,
          "SELECT count(*) AS n FROM staging.events WHERE at < '2026-01-01'",
        );
        const [busy] = await query<{ n: string }>(
          pair.destinationUrl,
          "SELECT count(*) AS n FROM elt.resync_jobs WHERE state IN ('queued', 'running')",
        );
        return n!.n === '0' && busy!.n === '0';
      },
      120_000,
    );
    const { code, report, output } = await verify(['--tables', 'public.events']);
    expect(code, output).toBe(EXIT.ok);
    expect(table(report, 'public.events').rowsChecked).toBe(200);
  });
});
