/** GET /health, GET /ready, GET /metrics and unknown routes, on a real destination. */
import { describe, expect, it } from 'vitest';
import { apiSuite, deadDatabaseUrl, SLOT, testApp } from '../helper.js';

describe('health and readiness', () => {
  const api = apiSuite('api-health', { heartbeatMaxAgeS: 30 });

  it('GET /health answers without touching the database', async () => {
    const down = await testApp(await deadDatabaseUrl());
    try {
      const res = await down.inject('/health');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    } finally {
      await down.close();
    }
  });

  it('GET /ready is 200 while the heartbeat is fresh', async () => {
    const res = await api.app.inject('/ready');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', slot: SLOT, phase: 'streaming' });
    expect(res.json().heartbeat_age_seconds).toBeLessThan(30);
  });

  it('GET /ready is 503 with the reason when the heartbeat is stale', async () => {
    await api.dest.pool.query(
      "UPDATE elt.replication_state SET heartbeat_at = now() - interval '95 seconds' WHERE slot_name = $1",
      [SLOT],
    );
    const res = await api.app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('not_ready');
    // At least 95 s: how much more depends on how long the request took.
    const age = /heartbeat is (\d+) s old \(limit 30 s\)/.exec(res.json().error.message as string);
    expect(age, res.body).not.toBeNull();
    expect(Number(age![1])).toBeGreaterThanOrEqual(95);
  });

  it('GET /ready is 503 when the replicator never ran for the slot, or reports an error, or the slot lost WAL', async () => {
    const other = await testApp(api.dest.pool, { slot: 'never_started' });
    try {
      const res = await other.inject('/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().error.message).toContain('no state for slot never_started');
    } finally {
      await other.close();
    }
    await api.dest.pool.query(
      "UPDATE elt.replication_state SET status = 'error', last_error = 'source unreachable' WHERE slot_name = $1",
      [SLOT],
    );
    let res = await api.app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.message).toContain('source unreachable');
    await api.dest.pool.query(
      "UPDATE elt.replication_state SET status = 'streaming', wal_status = 'lost' WHERE slot_name = $1",
      [SLOT],
    );
    res = await api.app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.message).toContain('full resync');
  });

  it('GET /ready is 503 when the elt schema does not exist yet', async () => {
    await api.dest.cluster.psql('CREATE DATABASE empty');
    const empty = await testApp(api.dest.cluster.url('empty'));
    try {
      const res = await empty.inject('/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().error.message).toContain('no elt control schema');
    } finally {
      await empty.close();
    }
  });

  it('GET /ready is 503 when the destination is down', async () => {
    const down = await testApp(await deadDatabaseUrl());
    try {
      const res = await down.inject('/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toEqual({ code: 'not_ready', message: expect.stringContaining('unreachable') });
    } finally {
      await down.close();
    }
  });

  it('an unknown route is a 404 in the error format', async () => {
    const res = await api.app.inject('/v2/nothing?x=1');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: {
        code: 'not_found',
        message: 'No route GET /v2/nothing: the routes are listed at /docs and /openapi.json.',
      },
    });
  });

  it('GET /metrics counts requests by route pattern and status, with durations', async () => {
    await api.app.inject('/v1/tables/public.orders');
    await api.app.inject('/v1/tables/public.nope');
    await api.app.inject('/random/scanner/path');
    const res = await api.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(/elt_api_requests_total\{method="GET",route="\/v1\/tables\/:table",status_code="200"\} 1/);
    expect(text).toMatch(/elt_api_requests_total\{method="GET",route="\/v1\/tables\/:table",status_code="404"\} 1/);
    expect(text).toMatch(/elt_api_requests_total\{method="GET",route="unmatched",status_code="404"\} [1-9]/);
    // One duration observed; which bucket it falls in depends on the machine's load, so no bucket below +Inf is asserted.
    expect(text).toMatch(
      /elt_api_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/tables\/:table",status_code="200"\} 1/,
    );
    expect(text).toMatch(
      /elt_api_request_duration_seconds_count\{method="GET",route="\/v1\/tables\/:table",status_code="200"\} 1/,
    );
    expect(text).not.toContain('public.orders');
  });
});
