import { expect, test } from 'vitest';
import type { TargetTable } from '../schema/mapping.js';
import { swapSql } from './swap-sql.js';

const table = (keyIndexes: number[]): TargetTable => ({
  relationId: 1,
  sourceSchema: 'public',
  sourceTable: 'items',
  targetSchema: 'staging',
  targetTable: 'items',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'v', type: 'text' },
  ],
  keyIndexes,
  replicaIdentity: keyIndexes.length ? 'd' : 'f',
  signature: '',
  stageTable: '',
});

const INSERT =
  'INSERT INTO "staging"."items" ("id", "v", _lsn, _deleted, _synced_at) SELECT "id", "v", _lsn, _deleted, now() FROM "staging"."_elt_resync_7"';

test.each([
  ['hard, keyed', [0], 'hard', ['TRUNCATE "staging"."items"', INSERT]],
  ['hard, no key', [], 'hard', ['TRUNCATE "staging"."items"', INSERT]],
  [
    'soft, no key: deleted rows stay, live rows are the copy',
    [],
    'soft',
    ['DELETE FROM "staging"."items" WHERE NOT _deleted', INSERT],
  ],
  [
    'soft, keyed: live rows gone from the copy are marked deleted, the copy replaces its keys',
    [0],
    'soft',
    [
      'UPDATE "staging"."items" t SET _deleted = true, _synced_at = now() WHERE NOT t._deleted AND NOT EXISTS (SELECT 1 FROM "staging"."_elt_resync_7" s WHERE s."id" = t."id")',
      'DELETE FROM "staging"."items" t USING "staging"."_elt_resync_7" s WHERE s."id" = t."id"',
      INSERT,
    ],
  ],
] as const)('swap, %s', (_name, keyIndexes, mode, statements) => {
  expect(swapSql(table([...keyIndexes]), '_elt_resync_7', mode)).toEqual(statements);
});
