/**
 * The SQL that replaces a replica table's rows with a resync's copy (the shadow table), in
 * the apply transaction. Pure: strings built from catalog names only.
 *
 * Hard-delete mode: TRUNCATE and INSERT (views on the table survive, readers see the old rows
 * until the commit). Soft-delete mode keeps what the copy cannot know: rows already marked
 * deleted stay, with their `_deleted` and `_synced_at`. With a key, a live row the copy no
 * longer has is marked deleted, and a deleted row whose key the copy holds again is replaced;
 * without a key (REPLICA IDENTITY FULL) the live rows are replaced by the copy's.
 */
import type { DeleteMode } from '../apply/merge-sql.js';
import type { TargetTable } from '../schema/mapping.js';
import { ident, qualified } from '../sql.js';
import { keyIn } from './key-set.js';

export function swapSql(table: TargetTable, shadowTable: string, deleteMode: DeleteMode): string[] {
  const target = qualified(table.targetSchema, table.targetTable);
  const shadow = qualified(table.targetSchema, shadowTable);
  const names = [...table.columns.map((c) => ident(c.name)), '_lsn', '_deleted'];
  // The rows are written now: _synced_at says so, so that incremental models pick them up.
  const insert = `INSERT INTO ${target} (${names.join(', ')}, _synced_at) SELECT ${names.join(', ')}, now() FROM ${shadow}`;
  if (deleteMode === 'hard') return [`TRUNCATE ${target}`, insert];
  if (table.keyIndexes.length === 0) return [`DELETE FROM ${target} WHERE NOT _deleted`, insert];
  const sameKey = table.keyIndexes
    .map((i) => `s.${ident(table.columns[i]!.name)} = t.${ident(table.columns[i]!.name)}`)
    .join(' AND ');
  return [
    `UPDATE ${target} t SET _deleted = true, _synced_at = now() WHERE NOT t._deleted AND NOT EXISTS (SELECT 1 FROM ${shadow} s WHERE ${sameKey})`,
    `DELETE FROM ${target} t USING ${shadow} s WHERE ${sameKey}`,
    insert,
  ];
}

/**
 * The same for a repair of some keys: only the replica's
 * rows of those keys (`json`, see ./key-set.ts keyIn) are replaced by the copy's; every other row stays as the stream wrote it.
 */
export function keySwapSql(table: TargetTable, shadowTable: string, deleteMode: DeleteMode, json: string): string[] {
  const target = qualified(table.targetSchema, table.targetTable);
  const shadow = qualified(table.targetSchema, shadowTable);
  const names = [...table.columns.map((c) => ident(c.name)), '_lsn', '_deleted'];
  const insert = `INSERT INTO ${target} (${names.join(', ')}, _synced_at) SELECT ${names.join(', ')}, now() FROM ${shadow} s WHERE ${keyIn(table, 's', json)}`;
  if (deleteMode === 'hard') return [`DELETE FROM ${target} t WHERE ${keyIn(table, 't', json)}`, insert];
  const sameKey = table.keyIndexes
    .map((i) => `s.${ident(table.columns[i]!.name)} = t.${ident(table.columns[i]!.name)}`)
    .join(' AND ');
  return [
    `UPDATE ${target} t SET _deleted = true, _synced_at = now() WHERE NOT t._deleted AND ${keyIn(table, 't', json)} AND NOT EXISTS (SELECT 1 FROM ${shadow} s WHERE ${sameKey})`,
    `DELETE FROM ${target} t USING ${shadow} s WHERE ${sameKey} AND ${keyIn(table, 's', json)}`,
    insert,
  ];
}
