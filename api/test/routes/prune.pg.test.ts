/**
 * Prune jobs through the API: queueing (and the NOTIFY the replicator listens for), reading
 * them back, and refusals that queue nothing. The replicator's side (running a job) is
 * replicator/test/prune.test.ts.
 */
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { PRUNE_CHANNEL } from '../../../replicator/src/state/control.js';
import { claimPruneJob } from '../../../replicator/src/state/prune-jobs.js';
import { waitFor } from '../../../harness/replication.js';
import { apiSuite, bearer, SLOT } from '../helper.js';

describe('prune jobs', () => {
  const api = apiSuite('api-prune');

  const post = (payload: unknown, headers: Record<string, string> = bearer()) =>
    api.app.inject({ method: 'POST', url: '/v1/prune', payload: payload as object, headers });
  const jobCount = async () =>
    (await api.dest.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM elt.prune_jobs')).rows[0]!.n;

  beforeEach(async () => {
    await api.dest.pool.query('TRUNCATE elt.prune_jobs RESTART IDENTITY');
  });

  it('POST /v1/prune queues a job, announces it on elt_prune after it is committed, and answers 202', async () => {
    const listener = new pg.Client(api.dest.url);
    await listener.connect();
    try {
      const seen: string[] = [];
      listener.on('notification', (message) => {
        if (message.channel === PRUNE_CHANNEL && message.payload) seen.push(message.payload);
      });
      await listener.query(`LISTEN ${PRUNE_CHANNEL}`);
      const res = await post({ older_than: '7d', requested_by: 'airflow elt_maintenance_dag' });
      expect(res.statusCode).toBe(202);
      const job = res.json();
      expect(res.headers.location).toBe(`/v1/prune/${job.id}`);
      expect(job).toMatchObject({
        slot: SLOT,
        state: 'queued',
        older_than: '7d',
        older_than_seconds: 604_800,
        cutoff: null,
        requested_by: 'airflow elt_maintenance_dag',
        started_at: null,
        rows_pruned: 0,
        tables: {},
        error: null,
      });
      await waitFor('the notification', async () => seen.includes(String(job.id)));
      expect(seen).toEqual([String(job.id)]);
      const { rows } = await listener.query(
        'SELECT slot_name, state, older_than_seconds::int AS s FROM elt.prune_jobs WHERE id = $1',
        [job.id],
      );
      expect(rows).toEqual([{ slot_name: SLOT, state: 'queued', s: 604_800 }]);
    } finally {
      await listener.end();
    }
  });

  it('GET /v1/prune and /v1/prune/{id} show the jobs of this slot, with what the replicator recorded', async () => {
    const id = (await post({ older_than: '12h' })).json().id as number;
    await api.dest.pool.query(
      `UPDATE elt.prune_jobs SET state = 'succeeded', started_at = now(), finished_at = now(), cutoff = now() - interval '12 hours',
         rows_pruned = 7, tables = '{"public.orders": 7}' WHERE id = $1`,
      [id],
    );
    await api.dest.pool.query("INSERT INTO elt.prune_jobs (slot_name, older_than_seconds) VALUES ('other_slot', 60)");
    const one = await api.app.inject(`/v1/prune/${id}`);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({
      id,
      state: 'succeeded',
      older_than: '12h',
      rows_pruned: 7,
      tables: { 'public.orders': 7 },
    });
    expect(one.json().cutoff).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const list = await api.app.inject('/v1/prune?state=succeeded');
    expect(list.json().jobs.map((j: { id: number }) => j.id)).toEqual([id]);
    expect((await api.app.inject('/v1/prune')).json().jobs).toHaveLength(1);
    expect((await api.app.inject('/v1/prune/999')).statusCode).toBe(404);
  });

  it.each([
    [{ older_than: '7 days' }, 400],
    [{ older_than: '7d', extra: 1 }, 400],
    [{}, 400],
  ])('refuses %j with %d and queues nothing', async (body, status) => {
    const res = await post(body);
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe('bad_request');
    expect(await jobCount()).toBe(0);
  });

  it('needs the token', async () => {
    expect((await post({ older_than: '7d' }, {})).statusCode).toBe(401);
    expect((await post({ older_than: '7d' }, bearer('wrong-token-0123456789abcdef'))).statusCode).toBe(403);
    expect(await jobCount()).toBe(0);
  });

  it('answers the job as it was queued, even when the replicator claims it at once', async () => {
    // The replicator: hears elt_prune and claims the job right away (as Pruner.step may).
    const replicator = new pg.Client(api.dest.url);
    await replicator.connect();
    const claims: Promise<unknown>[] = [];
    replicator.on('notification', (message) => {
      if (message.channel === PRUNE_CHANNEL) claims.push(claimPruneJob(replicator, SLOT));
    });
    await replicator.query(`LISTEN ${PRUNE_CHANNEL}`);
    // A loaded pool: each query waits a moment for a connection, time enough for the claim.
    const pool = api.dest.pool;
    const query = pool.query;
    pool.query = (async (...args: unknown[]) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return (query as (...a: unknown[]) => unknown).apply(pool, args);
    }) as typeof pool.query;
    try {
      const res = await post({ older_than: '7d' });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ state: 'queued', cutoff: null, started_at: null });
      // The claim did happen (the test would prove nothing otherwise).
      await waitFor('the replicator stand-in claims the job', async () => claims.length === 1);
    } finally {
      pool.query = query;
      await Promise.all(claims);
      await replicator.end();
    }
  });
});
