/**
 * Progress a person can see. Tables loaded in bulk and never analyzed (reltuples -1, as
 * after a restore) are estimated by their row counts, plain and partitioned alike; a resync
 * job reports an estimate and a percent below 100 while each table runs, and 100 when done,
 * its figures adding up over its tables; without a terminal the output stays JSON lines.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/pg-cluster.js';
import { replicationSuite } from '../../harness/fixture.js';
import { query, waitFor } from '../../harness/replication.js';

const TOKEN = 'progress-test-token-0123456789';

interface JobTable {
  table: string;
  state: string;
  rows_copied: number;
  rows_estimated: number | null;
  percent: number | null;
}
interface Job {
  state: string;
  progress: { rows_copied: number; rows_estimated: number | null; percent: number | null; tables_done: number };
  tables: JobTable[];
}

describe('resync progress of plain and partitioned tables', () => {
  const pair = replicationSuite({ start: false });
  let apiUrl: string;

  beforeAll(async () => {
    // About 40 MB each, autovacuum off: never analyzed, so the catalog has no row count to give.
    await query(
      pair.sourceUrl,
      `CREATE TABLE plain (id bigint PRIMARY KEY, pad text) WITH (autovacuum_enabled = off);
       INSERT INTO plain SELECT i, repeat('p', 60) FROM generate_series(1, 400000) i;
       CREATE TABLE parted (id bigint, region int, pad text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
       CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1) WITH (autovacuum_enabled = off);
       CREATE TABLE parted_2 PARTITION OF parted FOR VALUES IN (2) WITH (autovacuum_enabled = off);
       INSERT INTO parted SELECT i, 1 + i % 2, repeat('q', 60) FROM generate_series(1, 400000) i;
       CREATE TABLE small (id int PRIMARY KEY) WITH (autovacuum_enabled = off);
       INSERT INTO small SELECT generate_series(1, 1234);`,
    );
    const never = await query<{ n: string }>(
      pair.sourceUrl,
      "SELECT count(*) AS n FROM pg_class WHERE relname IN ('plain', 'parted_1', 'parted_2', 'small') AND reltuples = -1",
    );
    expect(Number(never[0]!.n)).toBe(4);
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    pair.spawn(['api'], { ELT_API_PORT: String(port), ELT_API_TOKEN: TOKEN });
    await pair.start();
  });

  it('the snapshot estimated every table from its rows, not from missing statistics', async () => {
    const rows = await query<{ table: string; estimated: string; copied: string }>(
      pair.destinationUrl,
      'SELECT source_table AS table, rows_estimated AS estimated, rows_copied AS copied FROM elt.tables ORDER BY 1',
    );
    expect(rows.map((r) => r.table)).toEqual(['parted', 'plain', 'small']);
    for (const r of rows) {
      // Tables over 16 MB are sampled (within 10 %), smaller ones counted.
      expect(Math.abs(Number(r.estimated) - Number(r.copied)) / Number(r.copied), r.table).toBeLessThan(0.1);
    }
    expect(rows.find((r) => r.table === 'small')!.estimated).toBe('1234');
  });

  it('a job shows an estimate and a percent below 100 while each table runs, and 100 at the end', async () => {
    const queued = await fetch(`${apiUrl}/v1/resync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tables: ['public.plain', 'public.parted'] }),
    });
    expect(queued.status).toBe(202);
    const { id } = (await queued.json()) as { id: number };
    const running: JobTable[] = [];
    const runningJobPercents: (number | null)[] = [];
    const done = await waitFor(
      `resync job ${id}`,
      async () => {
        const job = (await (await fetch(`${apiUrl}/v1/resync/${id}`)).json()) as Job;
        if (job.state === 'failed') throw new Error(JSON.stringify(job));
        running.push(...job.tables.filter((t) => t.state === 'running'));
        if (job.state === 'running') runningJobPercents.push(job.progress.percent);
        return job.state === 'succeeded' ? job : null;
      },
      120_000,
      20,
    );
    for (const table of ['public.plain', 'public.parted']) {
      const seen = running.filter((t) => t.table === table);
      expect(seen.length, `${table} was seen running`).toBeGreaterThan(0);
      for (const t of seen) {
        expect(t.rows_estimated, table).toBeGreaterThan(300_000);
        expect(t.percent, table).not.toBeNull();
        expect(t.percent!, table).toBeGreaterThanOrEqual(0);
        expect(t.percent!, table).toBeLessThan(100);
      }
    }
    for (const p of runningJobPercents) expect(p === null || (p >= 0 && p < 100)).toBe(true);
    expect(done.tables.map((t) => [t.table, t.percent, t.rows_copied])).toEqual([
      ['public.parted', 100, 400_000],
      ['public.plain', 100, 400_000],
    ]);
    expect(done.progress).toMatchObject({
      percent: 100,
      rows_copied: 800_000,
      rows_estimated: 800_000,
      tables_done: 2,
    });
  });

  it('without a terminal the replicator writes JSON lines only, no terminal escapes', () => {
    const lines = pair.replicator
      .output()
      .split('\n')
      .filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(5);
    expect(pair.replicator.output()).not.toContain('\x1b');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
