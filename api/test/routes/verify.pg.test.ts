/** GET /v1/verify: the last verification of each table of the slot, as the verifier stored it. */
import { describe, expect, it } from 'vitest';
import { apiSuite, bearer, SLOT, testApp } from '../helper.js';

describe('GET /v1/verify', () => {
  const api = apiSuite('api-verify');

  it('is an empty list before any verification, then each table of the slot with its last result', async () => {
    expect((await api.app.inject('/v1/verify')).json()).toEqual({ results: [] });
    await api.dest.pool.query(
      `INSERT INTO elt.verify_results (slot_name, source_schema, source_table, outcome, rows_checked, rows_differing, differences, reason, repair_job_id, started_at, finished_at)
       VALUES ($1, 'public', 'orders', 'differs', 60000, 2, '[{"kind": "missing", "key": {"id": "5"}, "rows": 1}, {"kind": "differs", "key": {"id": "7"}, "rows": 1}]', NULL, 12,
               '2026-01-02 03:04:05+00', '2026-01-02 03:04:09.5+00'),
              ($1, 'public', 'customers', 'equal', 500, 0, '[]', NULL, NULL, '2026-01-02 03:04:00+00', '2026-01-02 03:04:01+00'),
              ('other_slot', 'public', 'orders', 'equal', 1, 0, '[]', NULL, NULL, now(), now())`,
      [SLOT],
    );
    const res = await api.app.inject('/v1/verify');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      results: [
        {
          table: 'public.customers',
          outcome: 'equal',
          rows_checked: 500,
          rows_differing: 0,
          differences: [],
          reason: null,
          repair_job_id: null,
          started_at: '2026-01-02T03:04:00.000000Z',
          finished_at: '2026-01-02T03:04:01.000000Z',
        },
        {
          table: 'public.orders',
          outcome: 'differs',
          rows_checked: 60000,
          rows_differing: 2,
          differences: [
            { kind: 'missing', key: { id: '5' }, rows: 1 },
            { kind: 'differs', key: { id: '7' }, rows: 1 },
          ],
          reason: null,
          repair_job_id: 12,
          started_at: '2026-01-02T03:04:05.000000Z',
          finished_at: '2026-01-02T03:04:09.500000Z',
        },
      ],
    });
  });

  it('needs the token when reads do', async () => {
    const closed = await testApp(api.dest.pool, { readsNeedToken: true });
    try {
      expect((await closed.inject('/v1/verify')).statusCode).toBe(401);
      expect((await closed.inject({ url: '/v1/verify', headers: bearer() })).statusCode).toBe(200);
    } finally {
      await closed.close();
    }
  });
});
