import { expect, test } from 'vitest';
import type { TargetTable } from '../schema/mapping.js';
import { deleteOneRowSql, updateOneRowSql } from './merge-sql.js';

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
