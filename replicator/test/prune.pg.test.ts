/**
 * Pruning of old soft-deleted rows by the replicator (ELT_DELETE_MODE=soft): with
 * ELT_SOFT_DELETE_RETENTION it removes, by itself, the rows marked deleted longer ago than the
 * retention, and a job queued through the API does the same for its own duration. Live rows
 * and recent deletes stay, the replica's live rows equal the source while changes keep
 * streaming, and the rows removed show in the metrics and in elt.prune_jobs.
 *
 * Time is not waited for: the test moves `_synced_at` of some deleted rows back, as if they
 * had been deleted long ago.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../api/src/config.js';
import { startApi, type RunningApi } from '../../api/src/server.js';
import { freePort } from '../../harness/pg-cluster.js';
import { replicationSuite } from '../../harness/fixture.js';
import { query, waitFor } from '../../harness/replication.js';

const TOKEN = 'prune-test-token-0123456789abcdef';

interface Job {
  id: number;
  state: string;
  requested_by: string | null;
  rows_pruned: number;
  tables: Record<string, number>;
}

describe('pruning soft-deleted rows', () => {
  const pair = replicationSuite({
    start: false,
    env: { ELT_DELETE_MODE: 'soft', ELT_SOFT_DELETE_RETENTION: '1h', ELT_PRUNE_INTERVAL: '1s' },
  });
  let api: RunningApi;
  let metricsPort: number;

  /** Rows of staging.items by state: live ids, deleted ids. */
  const replicaIds = async () => {
    const rows = await query<{ id: number; deleted: boolean }>(
      pair.destinationUrl,
      'SELECT id, _deleted AS deleted FROM staging.items ORDER BY id',
    );
    return {
      live: rows.filter((r) => !r.deleted).map((r) => r.id),
      deleted: rows.filter((r) => r.deleted).map((r) => r.id),
    };
  };
  /** Mark these replica rows as deleted that long ago (as if time had passed). */
  const ageDeletes = (ids: number[], interval: string) =>
    query(
      pair.destinationUrl,
      `UPDATE staging.items SET _synced_at = now() - $2::interval WHERE _deleted AND id = ANY ($1::int[])`,
      [ids, interval],
    );
  const lastFinishedJobId = async () =>
    Number(
      (
        await query<{ id: string | null }>(
          pair.destinationUrl,
          "SELECT max(id)::text AS id FROM elt.prune_jobs WHERE state IN ('succeeded', 'failed')",
        )
      )[0]?.id ?? 0,
    );
  const lastJobId = async () =>
    Number(
      (await query<{ id: string | null }>(pair.destinationUrl, 'SELECT max(id)::text AS id FROM elt.prune_jobs'))[0]
        ?.id ?? 0,
    );
  /** The first job after `afterId` that finished, as the API shows it. */
  const finishedJobAfter = (afterId: number, requestedBy: string) =>
    waitFor(`a prune job by ${requestedBy} after job ${afterId} to finish`, async () => {
      const res = await fetch(`${api.url}/v1/prune?limit=100`);
      const jobs = ((await res.json()) as { jobs: Job[] }).jobs;
      return jobs
        .reverse()
        .find(
          (j) => j.id > afterId && j.requested_by === requestedBy && (j.state === 'succeeded' || j.state === 'failed'),
        );
    });
  const prunedMetric = async (table: string) => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`elt_soft_deleted_rows_pruned_total{table="${table}"}`));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  beforeAll(async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE items (id int PRIMARY KEY, v text);
       INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 12000) g;
       CREATE TABLE notes (n int, v text); ALTER TABLE notes REPLICA IDENTITY FULL;
       INSERT INTO notes SELECT g % 5, 'n' || g FROM generate_series(1, 20) g;`,
    );
    metricsPort = await freePort();
    await pair.start({ ELT_METRICS_PORT: String(metricsPort) });
    api = await startApi(
      loadApiConfig({ ELT_DESTINATION_URL: pair.destinationUrl, ELT_API_PORT: '0', ELT_API_TOKEN: TOKEN }),
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  it('removes rows deleted longer ago than ELT_SOFT_DELETE_RETENTION, in chunks, while changes keep streaming', async () => {
    // 11,000 old deletes (more than two chunks of 5,000), 100 recent ones, 900 live rows.
    await query(pair.sourceUrl, 'DELETE FROM items WHERE id <= 11100; DELETE FROM notes WHERE n = 1');
    await pair.catchUp();
    const before = await lastFinishedJobId();
    await query(
      pair.destinationUrl,
      `UPDATE staging.items SET _synced_at = now() - interval '2 hours' WHERE _deleted AND id <= 11000;
       UPDATE staging.notes SET _synced_at = now() - interval '2 hours' WHERE _deleted`,
    );
    const aged = await lastJobId();
    // Changes go on while the passes run: updates of live rows, a new row.
    await query(
      pair.sourceUrl,
      "UPDATE items SET v = v || '+' WHERE id > 11500; INSERT INTO items VALUES (20000, 'new')",
    );

    // A pass that started after the rows were aged has finished: every old row is gone (a pass
    // under way at that moment may have taken some of them).
    const job = await finishedJobAfter(aged, 'ELT_SOFT_DELETE_RETENTION');
    expect(job.state).toBe('succeeded');
    const [total] = await query<{ rows: number; items: number; notes: number }>(
      pair.destinationUrl,
      `SELECT sum(rows_pruned)::int AS rows, sum((tables ->> 'public.items')::int)::int AS items, sum((tables ->> 'public.notes')::int)::int AS notes
       FROM elt.prune_jobs WHERE id > $1 AND id <= $2`,
      [before, job.id],
    );
    expect(total).toEqual({ rows: 11_004, items: 11_000, notes: 4 });
    await query(pair.sourceUrl, "INSERT INTO items VALUES (1, 'back'); UPDATE items SET v = 'again' WHERE id = 1");
    await pair.catchUp();

    const ids = await replicaIds();
    expect(ids.deleted).toEqual(Array.from({ length: 100 }, (_, i) => 11_001 + i));
    expect(ids.live).toEqual([1, ...Array.from({ length: 900 }, (_, i) => 11_101 + i), 20_000]);
    expect(await query(pair.destinationUrl, 'SELECT count(*)::int AS n FROM staging.notes WHERE _deleted')).toEqual([
      { n: 0 },
    ]);
    await pair.expectEqual({ softDeleted: true, what: 'after the retention pass' });
    expect(await prunedMetric('public.items')).toBe(11_000);
    expect(
      pair.replicator
        .output()
        .split('\n')
        .filter((l) => l.includes('"table":"public.items"') && l.includes('prune: soft-deleted rows removed')),
    ).not.toEqual([]);
  });

  it('runs a prune job queued through POST /v1/prune with its own duration', async () => {
    await query(pair.sourceUrl, 'DELETE FROM items WHERE id BETWEEN 11101 AND 11110');
    await pair.catchUp();
    // 11001-11010 deleted "45 minutes ago", 11101-11105 "20 minutes ago"; the rest of the deletes are recent.
    await ageDeletes(
      Array.from({ length: 10 }, (_, i) => 11_001 + i),
      '45 minutes',
    );
    await ageDeletes(
      Array.from({ length: 5 }, (_, i) => 11_101 + i),
      '20 minutes',
    );
    const res = await fetch(`${api.url}/v1/prune`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ older_than: '30m', requested_by: 'prune test' }),
    });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as Job;

    const job = await finishedJobAfter(queued.id - 1, 'prune test');
    expect(job).toMatchObject({ id: queued.id, state: 'succeeded', rows_pruned: 10, tables: { 'public.items': 10 } });
    const ids = await replicaIds();
    expect(ids.deleted).toEqual([
      ...Array.from({ length: 90 }, (_, i) => 11_011 + i),
      ...Array.from({ length: 10 }, (_, i) => 11_101 + i),
    ]);
    await pair.expectEqual({ softDeleted: true, what: 'after the API job' });
    expect(await prunedMetric('public.items')).toBe(11_010);
  });
});
