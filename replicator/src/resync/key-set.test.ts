import { expect, test } from 'vitest';
import type { TargetTable } from '../schema/mapping.js';
import { UNCHANGED_TOAST, type Tuple } from '../source/pgoutput.js';
import { followKeyMove, keyIn, keysInTableOrder, keysParam } from './key-set.js';
import { keySwapSql } from './swap-sql.js';

/** (a, v, b) keyed by (b, a) in attnum order: keyIndexes [0, 2]. */
const table: TargetTable = {
  relationId: 1,
  sourceSchema: 'public',
  sourceTable: 'items',
  targetSchema: 'staging',
  targetTable: 'items',
  columns: [
    { name: 'a', type: 'integer' },
    { name: 'v', type: 'text' },
    { name: 'b', type: 'date' },
  ],
  keyIndexes: [0, 2],
  replicaIdentity: 'd',
  signature: '',
  stageTable: '',
};
const tuple = (...values: (string | null | typeof UNCHANGED_TOAST)[]): Tuple =>
  values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v));

test('keys are put in the order of the table identity; another key or none means the whole table', () => {
  const keys = keysInTableOrder(table, { columns: ['b', 'a'], values: [['2025-01-01', '1']] });
  expect([...keys!]).toEqual(['["1","2025-01-01"]']);
  expect(keysInTableOrder(table, { columns: ['a'], values: [['1']] })).toBeNull();
  expect(keysInTableOrder({ ...table, keyIndexes: [] }, { columns: ['a'], values: [['1']] })).toBeNull();
  expect(keysParam(keys!)).toBe('[["1","2025-01-01"]]');
});

test.each([
  ['an update within a key changes nothing', ['1', 'x'], ['1', 'x'], ['["1","x"]']],
  ['a key moved out of the set takes its new key along', ['1', 'x'], ['2', 'x'], ['["1","x"]', '["2","x"]']],
  ['a key moved in from outside leaves the set', ['3', 'x'], ['1', 'x'], []],
  ['a key moved between two keys outside the set changes nothing', ['3', 'x'], ['4', 'x'], ['["1","x"]']],
] as const)('%s', (_name, from, to, expected) => {
  const keys = new Set(['["1","x"]']);
  followKeyMove(table, keys, {
    op: 'update',
    lsn: 1n,
    key: tuple(from[0], null, from[1]),
    new: tuple(to[0], 'v', to[1]),
  });
  expect([...keys]).toEqual(expected);
});

test('an unchanged TOAST key value in the new image is the old key', () => {
  const keys = new Set(['["1","x"]']);
  followKeyMove(table, keys, {
    op: 'update',
    lsn: 1n,
    old: tuple('1', 'v', 'x'),
    new: tuple('2', 'w', UNCHANGED_TOAST),
  });
  expect([...keys]).toEqual(['["1","x"]', '["2","x"]']);
});

test('keys compared in the column types, so that the primary key index serves', () => {
  expect(keyIn(table, 't', '$1')).toBe(
    '(t."a", t."b") IN (SELECT (x->>0)::integer, (x->>1)::date FROM jsonb_array_elements($1::jsonb) x)',
  );
  expect(keyIn(table, 'r', "'[]'", ['int8', 'text', 'date'])).toContain('(x->>0)::int8, (x->>1)::date');
});

test.each([
  [
    'hard: the keys rows are deleted and the copy of them inserted',
    'hard',
    ['DELETE FROM "staging"."items" t WHERE (t."a", t."b") IN', 'INSERT INTO "staging"."items"'],
  ],
  [
    'soft: live rows of the keys gone from the copy are marked deleted',
    'soft',
    [
      'UPDATE "staging"."items" t SET _deleted = true, _synced_at = now() WHERE NOT t._deleted AND (t."a", t."b") IN',
      'DELETE FROM "staging"."items" t USING "staging"."_elt_resync_7" s WHERE s."a" = t."a" AND s."b" = t."b" AND (s."a", s."b") IN',
      'INSERT INTO "staging"."items"',
    ],
  ],
] as const)('key swap, %s', (_name, mode, starts) => {
  const statements = keySwapSql(table, '_elt_resync_7', mode, '$1');
  expect(statements.map((s, i) => s.startsWith(starts[i]!))).toEqual(starts.map(() => true));
  expect(statements.at(-1)).toContain('FROM "staging"."_elt_resync_7" s WHERE (s."a", s."b") IN');
});
