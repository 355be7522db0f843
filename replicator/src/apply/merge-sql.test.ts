import { expect, test } from 'vitest';
import type { TargetTable } from '../schema/mapping.js';
import { deleteOneRowSql, keyedMergeSql, updateOneRowSql } from './merge-sql.js';

const pairs: TargetTable = {
  relationId: 1,
  sourceSchema: 'public',
  sourceTable: 'pairs',
  targetSchema: 'staging',
  targetTable: 'pairs',
  columns: [
    { name: 'n', type: 'integer' },
    { name: 'v', type: 'text' },
  ],
  keyIndexes: [],
  replicaIdentity: 'f',
  signature: 'test',
  stageTable: 'elt_stage_test',
};

const bytes = (...values: string[]) => values.map((v) => Buffer.from(v));

const LIVE_MATCH =
  'ctid = (SELECT t.ctid FROM "staging"."pairs" t WHERE NOT t._deleted AND t."n"::text IS NOT DISTINCT FROM ($1::text::integer)::text AND t."v"::text IS NOT DISTINCT FROM ($2::text::text)::text LIMIT 1)';

test.each([
  ['hard', `DELETE FROM "staging"."pairs" WHERE ${LIVE_MATCH}`],
  ['soft', `UPDATE "staging"."pairs" SET _deleted = true, _synced_at = now() WHERE ${LIVE_MATCH}`],
] as const)('a %s delete of a row without a key matches one live row with the old values', (mode, sql) => {
  expect(deleteOneRowSql(pairs, bytes('1', 'a'), mode)).toEqual({ sql, params: bytes('1', 'a') });
});

test('an update of a row without a key matches one live row and sets what changed', () => {
  expect(updateOneRowSql(pairs, bytes('1', 'a'), [undefined, Buffer.from('b')], '0/10')).toEqual({
    sql: `UPDATE "staging"."pairs" SET "v" = $3::text::text, _lsn = $4::pg_lsn, _synced_at = now() WHERE ${LIVE_MATCH}`,
    params: [...bytes('1', 'a', 'b'), '0/10'],
  });
});

const keyed: TargetTable = { ...pairs, keyIndexes: [0], replicaIdentity: 'd' };

test.each([
  ['hard', `DELETE FROM "staging"."pairs" t USING elt_stage_test s WHERE s._op = 'D' AND t."n" = s.c0::integer`],
  [
    'soft',
    `UPDATE "staging"."pairs" t SET _deleted = true, _lsn = s._lsn, _synced_at = now() FROM elt_stage_test s WHERE s._op = 'D' AND t."n" = s.c0::integer`,
  ],
] as const)(
  'with MERGE, a %s delete comes first, then one MERGE that keeps unchanged TOAST values',
  (mode, deleteSql) => {
    expect(keyedMergeSql(keyed, [1], mode, true)).toEqual([
      deleteSql,
      `MERGE INTO "staging"."pairs" t USING (SELECT * FROM elt_stage_test WHERE _op = 'U') s ON t."n" = s.c0::integer ` +
        `WHEN MATCHED THEN UPDATE SET "v" = CASE WHEN substr(s._u, 2, 1) = '1' THEN t."v" ELSE s.c1::text END, _lsn = s._lsn, _synced_at = now(), _deleted = false ` +
        `WHEN NOT MATCHED THEN INSERT ("n", "v", _lsn, _synced_at, _deleted) VALUES (s.c0::integer, s.c1::text, s._lsn, now(), false)`,
    ]);
  },
);
