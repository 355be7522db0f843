import { describe, expect, it } from 'vitest';
import { identity, identityIn, keyRange, relation, rowHash } from './chunk-sql.js';
import { buildPlan, NotVerifiable } from './table-plan.js';

const names = { schema: 'public', table: 'orders', targetSchema: 'staging', targetTable: 'orders', partitioned: false };
const source = [
  { attnum: 1, name: 'id', type: 'bigint', key: [1, 3] },
  { attnum: 2, name: 'total', type: 'numeric(12,2)', key: [1, 3] },
  { attnum: 3, name: 'region', type: 'text', key: [1, 3] },
];
const recorded = [
  { attnum: 1, name: 'id', type: 'bigint' },
  { attnum: 2, name: 'amount', type: 'numeric(12,2)' },
  { attnum: 3, name: 'region', type: 'text' },
];

describe('verify plan and SQL', () => {
  it('pairs columns by attnum (a renamed replica column included) and keeps the key order', () => {
    const plan = buildPlan(names, recorded, source);
    expect(plan.columns.map((c) => `${c.source}->${c.replica}`)).toEqual(['id->id', 'total->amount', 'region->region']);
    expect(plan.key.map((c) => c.source)).toEqual(['id', 'region']);
    expect(rowHash(plan, 'source')).toBe('md5(ROW("id", "total", "region")::text)');
    expect(rowHash(plan, 'replica')).toBe('md5(ROW("id", "amount", "region")::text)');
    expect(relation(plan, 'source')).toBe('ONLY "public"."orders"');
    expect(identity(plan, 'replica')).toBe('ARRAY["id"::text, "region"::text]');
  });

  it('writes key ranges with typed bounds and identity lists as JSON', () => {
    const plan = buildPlan(names, recorded, source);
    expect(keyRange(plan, 'source', { lo: true, hi: true }, 1)).toBe(
      'ROW("id", "region") > ROW(($1::text[])[1]::bigint, ($1::text[])[2]::text) AND ROW("id", "region") <= ROW(($2::text[])[1]::bigint, ($2::text[])[2]::text)',
    );
    expect(keyRange(plan, 'source', { lo: false, hi: false }, 1)).toBe('true');
    expect(identityIn(plan, 'replica', 3)).toBe(
      'ROW("id", "region") IN (SELECT (x->>0)::bigint, (x->>1)::text FROM jsonb_array_elements($3::jsonb) x)',
    );
  });

  it('compares a table whose key the replica lacks as a whole, and refuses one with no common column', () => {
    const plan = buildPlan(
      names,
      recorded.filter((c) => c.attnum !== 3),
      source,
    );
    expect(plan.key).toEqual([]);
    expect(identity(plan, 'source')).toBe('ARRAY[md5(ROW("id", "total")::text)]');
    expect(() => buildPlan(names, [], source)).toThrow(NotVerifiable);
  });
});
