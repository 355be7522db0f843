/** GET /v1/status, GET /v1/tables and GET /v1/tables/{table}, and reads behind the token. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { apiSuite, bearer, deadDatabaseUrl, seed, SLOT, testApp, TOKEN } from '../helper.js';

describe('status and tables', () => {
  const api = apiSuite('api-status');

  it('GET /v1/status reports the slot, LSNs, lag, retained WAL and the replicator state', async () => {
    const res = await api.app.inject('/v1/status');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      slot: SLOT,
      phase: 'streaming',
      status: 'streaming',
      host: 'replica-host',
      pid: 4242,
      applied_lsn: '0/16B3748',
      confirmed_lsn: '0/16B3748',
      received_lsn: '0/16B4000',
      source_wal_lsn: '0/16B5000',
      lag_bytes: 6328,
      lag_seconds: 1.5,
      retained_wal_bytes: 1048576,
      slot_active: true,
      wal_status: 'reserved',
      heartbeat_fresh: true,
      last_error: null,
      tables: { total: 5, by_state: { streaming: 2, error: 1, excluded: 1, snapshotting: 1, resyncing: 0 } },
    });
    expect(body.heartbeat_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Date.parse(body.applied_commit_at)).toBeLessThan(Date.parse(body.heartbeat_at));
  });

  it('GET /v1/status never shows the applied LSN past the source, rounds lag, and keeps lag bytes from one heartbeat, never negative', async () => {
    // Applied live past the heartbeat's source position; a confirmed LSN past it too; float noise in lag_seconds.
    await api.dest.pool.query(
      `UPDATE elt.replication_state SET applied_lsn = '0/16B6000', source_wal_lsn = '0/16B5000', confirmed_lsn = '0/16B5800',
         lag_seconds = 0.53434912109375 WHERE slot_name = $1`,
      [SLOT],
    );
    try {
      const body = (await api.app.inject('/v1/status')).json();
      expect(body).toMatchObject({
        applied_lsn: '0/16B6000',
        source_wal_lsn: '0/16B6000',
        confirmed_lsn: '0/16B5800',
        lag_bytes: 0,
        lag_seconds: 0.534,
      });
      expect(String(body.heartbeat_age_seconds)).toMatch(/^\d+(\.\d{1,3})?$/);
      await api.dest.pool.query(
        `UPDATE elt.replication_state SET confirmed_lsn = '0/16B4000', lag_seconds = -0.2 WHERE slot_name = $1`,
        [SLOT],
      );
      expect((await api.app.inject('/v1/status')).json()).toMatchObject({
        source_wal_lsn: '0/16B6000',
        lag_bytes: 0x1000,
        lag_seconds: 0,
      });
    } finally {
      await seed(api.dest.pool);
    }
  });

  it('GET /v1/status is 404 for a slot without state, 503 with the destination down', async () => {
    const other = await testApp(api.dest.pool, { slot: 'no_such_slot' });
    const down = await testApp(await deadDatabaseUrl());
    try {
      const missing = await other.inject('/v1/status');
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.message).toContain('no_such_slot');
      const res = await down.inject('/v1/status');
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json().error.code).toBe('database_unavailable');
    } finally {
      await other.close();
      await down.close();
    }
  });

  it("GET /v1/tables lists the slot's tables with state, rows and last change", async () => {
    const res = await api.app.inject('/v1/tables');
    expect(res.statusCode).toBe(200);
    const { slot, tables } = res.json<{ slot: string; tables: Array<Record<string, unknown>> }>();
    expect(slot).toBe(SLOT);
    expect(tables.map((t) => t.table)).toEqual([
      'public.audit_log',
      'public.customers',
      'public.orders',
      'public.payments',
      'sales.line items',
    ]);
    expect(tables.find((t) => t.table === 'public.payments')).toMatchObject({
      state: 'error',
      rows_estimated: null,
      last_error: expect.stringContaining('numeric'),
      last_error_at: expect.any(String),
    });
    expect(tables.find((t) => t.table === 'public.orders')).toMatchObject({
      target: 'staging.orders',
      rows_estimated: 1000,
      rows_copied: 1000,
      inserts: 7,
      updates: 3,
      deletes: 1,
      truncates: 0,
      last_change_lsn: '0/16B3700',
      active_resync_job_id: null,
      selected: true,
    });
    expect(tables.find((t) => t.table === 'public.audit_log')).toMatchObject({
      state: 'excluded',
      selected: false,
      last_error: expect.stringMatching(/^Not selected: ELT_EXCLUDE_TABLES pattern 'public.audit_\*' matches it/),
    });
  });

  it('GET /v1/tables shows the columns a table leaves out and masks, by method', async () => {
    await api.dest.pool.query(
      `UPDATE elt.tables SET column_policy = $2::jsonb WHERE slot_name = $1 AND source_table = 'orders'`,
      [
        SLOT,
        JSON.stringify([
          { attnum: 2, column: 'email', policy: 'hash' },
          { attnum: 3, column: 'ssn', policy: 'exclude' },
          { attnum: 5, column: 'phone', policy: 'redact:3' },
        ]),
      ],
    );
    try {
      expect((await api.app.inject('/v1/tables/public.orders')).json()).toMatchObject({
        excluded_columns: ['ssn'],
        masked_columns: [
          { column: 'email', method: 'hash' },
          { column: 'phone', method: 'redact:3' },
        ],
      });
      expect((await api.app.inject('/v1/tables/public.customers')).json()).toMatchObject({
        excluded_columns: [],
        masked_columns: [],
      });
    } finally {
      await seed(api.dest.pool);
    }
  });

  it('GET /v1/tables?state= filters; an unknown state is a 400', async () => {
    const res = await api.app.inject('/v1/tables?state=error');
    expect(res.json().tables.map((t: { table: string }) => t.table)).toEqual(['public.payments']);
    const bad = await api.app.inject('/v1/tables?state=bogus');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('bad_request');
    expect(bad.json().error.message).toContain('querystring.state');
  });

  it('GET /v1/tables/{schema.table} shows one table, names with spaces included', async () => {
    const res = await api.app.inject('/v1/tables/public.orders');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ table: 'public.orders', state: 'streaming' });
    const spaced = await api.app.inject(`/v1/tables/${encodeURIComponent('sales.line items')}`);
    expect(spaced.statusCode).toBe(200);
    expect(spaced.json()).toMatchObject({
      source_schema: 'sales',
      source_table: 'line items',
      state: 'snapshotting',
      rows_copied: 50,
    });
  });

  it('GET /v1/tables/{table} is 404 for a table that is not replicated, or only by another slot', async () => {
    for (const name of ['public.nope', 'orders', 'public.only_in_other_slot', 'PUBLIC.ORDERS']) {
      const res = await api.app.inject(`/v1/tables/${encodeURIComponent(name)}`);
      expect(res.statusCode, name).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
  });

  it('SQL in a table name is a 404, never an error, and changes nothing', async () => {
    const attempts = [
      "public.orders'; DROP TABLE elt.tables; --",
      'public.orders" OR "1"="1',
      "x' UNION SELECT * FROM pg_shadow --",
      'public.orders;SELECT pg_sleep(10)',
      '$1',
      '%',
      'public.%',
    ];
    for (const name of attempts) {
      const res = await api.app.inject(`/v1/tables/${encodeURIComponent(name)}`);
      expect(res.statusCode, name).toBe(404);
    }
    const { rows } = await api.dest.pool.query('SELECT count(*)::int AS n FROM elt.tables');
    expect(rows[0].n).toBe(6);
  });

  it('a table name with a NUL byte or over 300 characters is a 400', async () => {
    expect((await api.app.inject('/v1/tables/public.a%00b')).statusCode).toBe(400);
    const long = await api.app.inject(`/v1/tables/public.${'x'.repeat(400)}`);
    expect(long.statusCode).toBe(400);
    expect(long.json().error.message).toContain('300');
  });

  describe('with ELT_API_READS_NEED_TOKEN=true', () => {
    let closed: App;
    beforeAll(async () => {
      closed = await testApp(api.dest.pool, { readsNeedToken: true });
    });
    afterAll(async () => {
      await closed?.close();
    });

    it('reads need the token: 401 without, 403 wrong, 200 right', async () => {
      for (const url of ['/v1/status', '/v1/tables', '/v1/tables/public.orders', '/v1/resync']) {
        const missing = await closed.inject(url);
        expect(missing.statusCode, url).toBe(401);
        expect(missing.headers['www-authenticate']).toBe('Bearer realm="elt"');
        expect(missing.json().error.code).toBe('unauthorized');
        expect((await closed.inject({ url, headers: bearer('wrong-token-0123456789') })).statusCode, url).toBe(403);
        expect((await closed.inject({ url, headers: bearer(TOKEN.slice(0, -1)) })).statusCode, url).toBe(403);
        expect((await closed.inject({ url, headers: { authorization: `Basic ${TOKEN}` } })).statusCode, url).toBe(401);
        expect((await closed.inject({ url, headers: bearer() })).statusCode, url).toBe(200);
      }
    });

    it('an unknown table is checked only after the token (401, not 404)', async () => {
      expect((await closed.inject('/v1/tables/public.nope')).statusCode).toBe(401);
    });

    it('health, readiness, metrics and the docs stay open', async () => {
      for (const url of ['/health', '/ready', '/metrics', '/openapi.json']) {
        expect((await closed.inject(url)).statusCode, url).toBe(200);
      }
    });
  });
});
