/**
 * Resync jobs through the API: queueing (and the NOTIFY the replicator listens for),
 * progress, listing, cancelling, and every refusal leaving elt.resync_* exactly as it was.
 * The replicator's side is simulated by updating the job rows as it would.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { RESYNC_CHANNEL } from '../../../replicator/src/state/control.js';
import { waitFor } from '../../../harness/replication.js';
import { apiSuite, bearer, deadDatabaseUrl, resyncSnapshot, SLOT, testApp, TOKEN } from '../helper.js';

describe('resync jobs', () => {
  const api = apiSuite('api-resync');

  const post = (payload: unknown, headers: Record<string, string> = bearer()) =>
    api.app.inject({ method: 'POST', url: '/v1/resync', payload: payload as object, headers });

  it('POST /v1/resync queues a job with its tables and answers 202 with the job', async () => {
    const res = await post({
      tables: ['public.orders', 'sales.line items', 'public.orders'],
      requested_by: 'airflow elt_dag',
    });
    expect(res.statusCode).toBe(202);
    const job = res.json();
    expect(res.headers.location).toBe(`/v1/resync/${job.id}`);
    expect(job).toMatchObject({
      slot: SLOT,
      state: 'queued',
      requested_by: 'airflow elt_dag',
      cancel_requested: false,
      started_at: null,
      progress: { tables_total: 2, tables_done: 0, rows_copied: 0, rows_estimated: 1200, percent: 0 },
      tables: [
        { table: 'public.orders', state: 'queued', rows_copied: 0, rows_estimated: 1000, percent: 0 },
        { table: 'sales.line items', state: 'queued', rows_copied: 0, rows_estimated: 200, percent: 0 },
      ],
    });
    const { rows } = await api.dest.pool.query(
      'SELECT j.slot_name, j.state, t.source_schema, t.source_table, t.slot_name AS t_slot FROM elt.resync_jobs j JOIN elt.resync_job_tables t ON t.job_id = j.id ORDER BY 3, 4',
    );
    expect(rows).toEqual([
      { slot_name: SLOT, state: 'queued', source_schema: 'public', source_table: 'orders', t_slot: SLOT },
      { slot_name: SLOT, state: 'queued', source_schema: 'sales', source_table: 'line items', t_slot: SLOT },
    ]);
    const table = await api.app.inject('/v1/tables/public.orders');
    expect(table.json().active_resync_job_id).toBe(job.id);
  });

  it('a queued job is announced on elt_resync, after its rows are committed', async () => {
    const listener = new pg.Client(api.dest.url);
    await listener.connect();
    try {
      const seen: string[] = [];
      let visible: unknown[] = [];
      listener.on('notification', (message) => {
        if (message.channel === RESYNC_CHANNEL && message.payload) seen.push(message.payload);
      });
      await listener.query(`LISTEN ${RESYNC_CHANNEL}`);
      const res = await post({ tables: ['public.customers'] });
      expect(res.statusCode).toBe(202);
      const id = String(res.json().id);
      await waitFor('the notification', async () => seen.includes(id));
      expect(seen).toEqual([id]);
      visible = (await listener.query('SELECT state FROM elt.resync_jobs WHERE id = $1::bigint', [id])).rows;
      expect(visible).toEqual([{ state: 'queued' }]);
    } finally {
      await listener.end();
    }
  });

  it('{"all": true} queues every replicated table of the slot (not excluded ones, not other slots)', async () => {
    const res = await post({ all: true });
    expect(res.statusCode).toBe(202);
    expect(res.json().tables.map((t: { table: string }) => t.table)).toEqual([
      'public.customers',
      'public.orders',
      'public.payments',
      'sales.line items',
    ]);
    expect(res.json().progress).toMatchObject({ tables_total: 4, rows_estimated: 1700 });
  });

  it('409 when a table already has a queued or running resync; nothing of the new request is written', async () => {
    const first = await post({ tables: ['public.orders'] });
    expect(first.statusCode).toBe(202);
    const before = await resyncSnapshot(api.dest.pool);
    for (const body of [
      { tables: ['public.orders'] },
      { tables: ['public.customers', 'public.orders'] },
      { all: true },
    ]) {
      const res = await post(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(409);
      expect(res.json().error).toEqual({
        code: 'conflict',
        message: expect.stringContaining(`public.orders (job ${first.json().id})`),
      });
    }
    // Still 409 while the replicator runs it; free again once it finished.
    await api.dest.pool.query("UPDATE elt.resync_job_tables SET state = 'running' WHERE job_id = $1", [
      first.json().id,
    ]);
    expect((await post({ tables: ['public.orders'] })).statusCode).toBe(409);
    expect((await resyncSnapshot(api.dest.pool)).jobs).toBe(before.jobs);
    await api.dest.pool.query("UPDATE elt.resync_job_tables SET state = 'succeeded' WHERE job_id = $1", [
      first.json().id,
    ]);
    expect((await post({ tables: ['public.orders'] })).statusCode).toBe(202);
  });

  it('two concurrent requests for the same table: one 202, one 409', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => post({ tables: ['public.orders'] })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([202, 409, 409, 409, 409, 409]);
    expect((await resyncSnapshot(api.dest.pool)).tables).toBe(1);
  });

  it("404 for a table that is not replicated (or excluded, or another slot's); nothing is written", async () => {
    const before = await resyncSnapshot(api.dest.pool);
    for (const tables of [
      ['public.nope'],
      ['public.orders', 'public.nope'],
      ['public.audit_log'],
      ['public.only_in_other_slot'],
      ["public.orders'); DELETE FROM elt.tables; --"],
    ]) {
      const res = await post({ tables });
      expect(res.statusCode, tables.join()).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    expect(await resyncSnapshot(api.dest.pool)).toEqual(before);
    expect((await api.dest.pool.query('SELECT count(*)::int AS n FROM elt.tables')).rows[0].n).toBe(6);
  });

  it('404 for {"all": true} when the slot has no tables yet', async () => {
    await api.dest.pool.query('DELETE FROM elt.tables WHERE slot_name = $1', [SLOT]);
    const res = await post({ all: true });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toContain('No tables are replicated');
  });

  it('malformed requests are 400 (413, 415 for the body itself) and change nothing', async () => {
    await post({ tables: ['public.orders'] });
    const before = await resyncSnapshot(api.dest.pool);
    const bodies: unknown[] = [
      {},
      { tables: [] },
      { tables: 'public.orders' },
      { tables: [42] },
      { tables: [''] },
      { tables: ['public.customers'], all: true },
      { all: false },
      { all: 'yes' },
      { tables: ['public.customers'], extra: 1 },
      { tables: ['public.a\u0000b'] },
      { tables: Array.from({ length: 1001 }, (_, i) => `public.t${i}`) },
      [],
      null,
    ];
    for (const body of bodies) {
      const res = await post(body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
    }
    const jsonString = await api.app.inject({
      method: 'POST',
      url: '/v1/resync',
      headers: { ...bearer(), 'content-type': 'application/json' },
      payload: '"public.orders"',
    });
    expect(jsonString.statusCode).toBe(400);
    const exclusive = await post({});
    expect(exclusive.json().error.message).toContain('give either "tables"');
    const badJson = await api.app.inject({
      method: 'POST',
      url: '/v1/resync',
      headers: { ...bearer(), 'content-type': 'application/json' },
      payload: '{"tables": [',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('bad_request');
    const empty = await api.app.inject({
      method: 'POST',
      url: '/v1/resync',
      headers: { ...bearer(), 'content-type': 'application/json' },
    });
    expect(empty.statusCode).toBe(400);
    const text = await api.app.inject({
      method: 'POST',
      url: '/v1/resync',
      headers: { ...bearer(), 'content-type': 'text/plain' },
      payload: 'public.orders',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported_media_type');
    const huge = await post({ tables: ['public.customers'], requested_by: 'x'.repeat(100_000) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('payload_too_large');
    for (const url of [
      '/v1/resync/abc',
      '/v1/resync/0',
      '/v1/resync/-1',
      '/v1/resync/1.5',
      '/v1/resync/99999999999999999999',
    ]) {
      expect((await api.app.inject(url)).statusCode, url).toBe(400);
      expect((await api.app.inject({ method: 'DELETE', url, headers: bearer() })).statusCode, url).toBe(400);
    }
    expect((await api.app.inject('/v1/resync?limit=0')).statusCode).toBe(400);
    expect((await api.app.inject('/v1/resync?state=done')).statusCode).toBe(400);
    expect(await resyncSnapshot(api.dest.pool)).toEqual(before);
  });

  it('unauthenticated requests are 401, a wrong token 403, and change nothing', async () => {
    const queued = await post({ tables: ['public.orders'] });
    const id = queued.json().id as number;
    const before = await resyncSnapshot(api.dest.pool);
    const attempts: Array<{ headers: Record<string, string>; status: number }> = [
      { headers: {}, status: 401 },
      { headers: { authorization: '' }, status: 401 },
      { headers: { authorization: 'Bearer' }, status: 401 },
      { headers: { authorization: TOKEN }, status: 401 },
      { headers: { authorization: `Basic ${Buffer.from(`elt:${TOKEN}`).toString('base64')}` }, status: 401 },
      { headers: bearer('not-the-token-at-all'), status: 403 },
      { headers: bearer(`${TOKEN}x`), status: 403 },
      { headers: bearer(TOKEN.toUpperCase()), status: 403 },
    ];
    for (const { headers, status } of attempts) {
      const label = JSON.stringify(headers);
      // Valid, invalid and oversized bodies alike: the token is checked before the body is read.
      for (const payload of [{ tables: ['public.customers'] }, { all: true }, { tables: 'bad' }]) {
        const res = await post(payload, headers);
        expect(res.statusCode, label).toBe(status);
        expect(res.json().error.code).toBe(status === 401 ? 'unauthorized' : 'forbidden');
      }
      expect((await api.app.inject({ method: 'DELETE', url: `/v1/resync/${id}`, headers })).statusCode, label).toBe(
        status,
      );
    }
    expect(await resyncSnapshot(api.dest.pool)).toEqual(before);
  });

  it('without ELT_API_TOKEN configured, every mutation is refused (403)', async () => {
    const open = await testApp(api.dest.pool, { token: undefined });
    try {
      const res = await open.inject({ method: 'POST', url: '/v1/resync', payload: { all: true } });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.message).toContain('ELT_API_TOKEN');
      expect(
        (await open.inject({ method: 'POST', url: '/v1/resync', payload: { all: true }, headers: bearer() }))
          .statusCode,
      ).toBe(403);
      expect((await open.inject('/v1/resync')).statusCode).toBe(200);
      expect((await resyncSnapshot(api.dest.pool)).jobs).toBe(0);
    } finally {
      await open.close();
    }
  });

  it('GET /v1/resync/{id} shows progress per table and in total as the replicator advances', async () => {
    const id = (await post({ tables: ['public.orders', 'public.payments', 'sales.line items'] })).json().id as number;
    await api.dest.pool.query("UPDATE elt.resync_jobs SET state = 'running', started_at = now() WHERE id = $1", [id]);
    await api.dest.pool.query(
      `UPDATE elt.resync_job_tables SET state = CASE source_table WHEN 'line items' THEN 'succeeded' ELSE 'running' END,
         rows_copied = CASE source_table WHEN 'orders' THEN 250 WHEN 'payments' THEN 40 ELSE 210 END, started_at = now()
       WHERE job_id = $1`,
      [id],
    );
    const res = await api.app.inject(`/v1/resync/${id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id,
      state: 'running',
      started_at: expect.any(String),
      progress: { tables_total: 3, tables_done: 1, rows_copied: 500, rows_estimated: 1200, percent: 41.7 },
      tables: [
        { table: 'public.orders', state: 'running', rows_copied: 250, rows_estimated: 1000, percent: 25 },
        { table: 'public.payments', state: 'running', rows_copied: 40, rows_estimated: null, percent: null },
        { table: 'sales.line items', state: 'succeeded', rows_copied: 210, rows_estimated: 200, percent: 100 },
      ],
    });
  });

  it('a running job whose copy outgrew its estimate shows 99.9 %, not 100, until it succeeds', async () => {
    const id = (await post({ tables: ['public.orders'] })).json().id as number;
    await api.dest.pool.query("UPDATE elt.resync_jobs SET state = 'running', started_at = now() WHERE id = $1", [id]);
    await api.dest.pool.query(
      "UPDATE elt.resync_job_tables SET state = 'running', rows_copied = 73059, rows_estimated = 35416 WHERE job_id = $1",
      [id],
    );
    const running = (await api.app.inject(`/v1/resync/${id}`)).json();
    expect(running.progress.percent).toBe(99.9);
    expect(running.tables[0].percent).toBe(99.9);
    await api.dest.pool.query(
      "UPDATE elt.resync_job_tables SET state = 'succeeded', rows_estimated = rows_copied WHERE job_id = $1",
      [id],
    );
    await api.dest.pool.query("UPDATE elt.resync_jobs SET state = 'succeeded', finished_at = now() WHERE id = $1", [
      id,
    ]);
    const done = (await api.app.inject(`/v1/resync/${id}`)).json();
    expect(done.progress).toMatchObject({ percent: 100, rows_copied: 73059, rows_estimated: 73059 });
  });

  it("GET /v1/resync/{id} is 404 for an unknown job or another slot's job", async () => {
    expect((await api.app.inject('/v1/resync/424242')).statusCode).toBe(404);
    const { rows } = await api.dest.pool.query(
      "INSERT INTO elt.resync_jobs (slot_name) VALUES ('other_slot') RETURNING id",
    );
    const res = await api.app.inject(`/v1/resync/${rows[0].id}`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
  });

  it('GET /v1/resync lists recent jobs newest first, with limit and state filters', async () => {
    const ids: number[] = [];
    for (const table of ['public.orders', 'public.customers', 'public.payments'])
      ids.push((await post({ tables: [table] })).json().id);
    await api.dest.pool.query("UPDATE elt.resync_jobs SET state = 'succeeded', finished_at = now() WHERE id = $1", [
      ids[0],
    ]);
    await api.dest.pool.query("INSERT INTO elt.resync_jobs (slot_name) VALUES ('other_slot')");
    const all = await api.app.inject('/v1/resync');
    expect(all.statusCode).toBe(200);
    expect(all.json().jobs.map((j: { id: number }) => j.id)).toEqual([...ids].reverse());
    expect(all.json().jobs[2]).toMatchObject({ state: 'succeeded', progress: { percent: 100, tables_total: 1 } });
    expect((await api.app.inject('/v1/resync?limit=2')).json().jobs.map((j: { id: number }) => j.id)).toEqual([
      ids[2],
      ids[1],
    ]);
    expect((await api.app.inject('/v1/resync?state=succeeded')).json().jobs.map((j: { id: number }) => j.id)).toEqual([
      ids[0],
    ]);
  });

  it('DELETE /v1/resync/{id} cancels a queued job and its tables at once (200), and again is a no-op', async () => {
    const id = (await post({ tables: ['public.orders', 'public.customers'] })).json().id as number;
    const res = await api.app.inject({ method: 'DELETE', url: `/v1/resync/${id}`, headers: bearer() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id,
      state: 'cancelled',
      cancel_requested: true,
      finished_at: expect.any(String),
    });
    expect(res.json().tables.map((t: { state: string }) => t.state)).toEqual(['cancelled', 'cancelled']);
    const again = await api.app.inject({ method: 'DELETE', url: `/v1/resync/${id}`, headers: bearer() });
    expect(again.statusCode).toBe(200);
    expect(again.json().state).toBe('cancelled');
    // The tables are free for a new resync.
    expect((await post({ tables: ['public.orders'] })).statusCode).toBe(202);
  });

  it('DELETE /v1/resync/{id} asks the replicator to stop a running job (202) and notifies it', async () => {
    const id = (await post({ tables: ['public.orders'] })).json().id as number;
    await api.dest.pool.query("UPDATE elt.resync_jobs SET state = 'running', started_at = now() WHERE id = $1", [id]);
    await api.dest.pool.query(
      "UPDATE elt.resync_job_tables SET state = 'running', rows_copied = 10 WHERE job_id = $1",
      [id],
    );
    const listener = new pg.Client(api.dest.url);
    await listener.connect();
    try {
      const seen: string[] = [];
      listener.on('notification', (message) => seen.push(message.payload ?? ''));
      await listener.query(`LISTEN ${RESYNC_CHANNEL}`);
      const res = await api.app.inject({ method: 'DELETE', url: `/v1/resync/${id}`, headers: bearer() });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({
        id,
        state: 'running',
        cancel_requested: true,
        tables: [{ state: 'running', rows_copied: 10 }],
      });
      await waitFor('the notification', async () => seen.includes(String(id)));
      expect(seen).toContain(String(id));
    } finally {
      await listener.end();
    }
  });

  it('DELETE /v1/resync/{id} is 409 for a finished job and 404 for an unknown one', async () => {
    const id = (await post({ tables: ['public.orders'] })).json().id as number;
    await api.dest.pool.query("UPDATE elt.resync_jobs SET state = 'succeeded', finished_at = now() WHERE id = $1", [
      id,
    ]);
    const before = await resyncSnapshot(api.dest.pool);
    const done = await api.app.inject({ method: 'DELETE', url: `/v1/resync/${id}`, headers: bearer() });
    expect(done.statusCode).toBe(409);
    expect(done.json().error.message).toContain('already succeeded');
    expect((await api.app.inject({ method: 'DELETE', url: '/v1/resync/987654', headers: bearer() })).statusCode).toBe(
      404,
    );
    expect(await resyncSnapshot(api.dest.pool)).toEqual(before);
  });

  it('503 for every resync endpoint when the destination is down', async () => {
    const down = await testApp(await deadDatabaseUrl());
    try {
      const requests = [
        { method: 'POST' as const, url: '/v1/resync', payload: { all: true }, headers: bearer() },
        { method: 'GET' as const, url: '/v1/resync' },
        { method: 'GET' as const, url: '/v1/resync/1' },
        { method: 'DELETE' as const, url: '/v1/resync/1', headers: bearer() },
        { method: 'GET' as const, url: '/v1/tables' },
      ];
      for (const request of requests) {
        const res = await down.inject(request);
        expect(res.statusCode, request.url).toBe(503);
        expect(res.json().error.code).toBe('database_unavailable');
      }
    } finally {
      await down.close();
    }
  });
});
