/**
 * The set-based SQL that applies a chunk of staged changes to one replica table. Pure:
 * strings only, built from the destination catalog's names and types (never from row data).
 *
 * The stage table holds one row per change as text: `_op`, `_lsn`, `_u` (a '0'/'1' flag per
 * column: 1 = unchanged TOAST value, keep what is stored), and `c0..cN`, one per source
 * column. Each value is cast back to its destination type by PostgreSQL itself.
 */
import type { TargetTable } from '../schema/mapping.js';
import { ident, qualified } from '../sql.js';

export type DeleteMode = 'hard' | 'soft';

/** A column value for a statement: the source's text as bytes, null, or undefined for "unchanged" (left out). */
export type Value = Buffer | null | undefined;
/** A bound parameter: bytes go to the server as they are (pg sends a Buffer in binary format), LSNs as text. */
export type Param = Buffer | string | null;

/**
 * Parameter $n read as `type`. Bytes are bound as text (whose binary form is its bytes) and
 * cast from text, which reads them exactly as COPY would: pg sends a Buffer parameter in
 * binary format, which for any other type would mean that type's binary layout.
 */
function param(n: number, type: string): string {
  return `$${n}::text::${type}`;
}

export function stageTableName(table: TargetTable): string {
  return table.stageTable;
}

export function stageColumns(table: TargetTable): string[] {
  return ['_op', '_lsn', '_u', ...table.columns.map((_, i) => `c${i}`)];
}

export function createStageTableSql(table: TargetTable): string {
  const valueColumns = table.columns.map((_, i) => `c${i} text`).join(', ');
  return `DROP TABLE IF EXISTS pg_temp.${stageTableName(table)}; CREATE TEMP TABLE ${stageTableName(table)} (_op "char" NOT NULL, _lsn pg_lsn NOT NULL, _u text, ${valueColumns})`;
}

/** Empty the stage table for the next chunk (it is reused while the table keeps its shape). */
export function truncateStageSql(table: TargetTable): string {
  return `TRUNCATE pg_temp.${stageTableName(table)}`;
}

function target(table: TargetTable): string {
  return qualified(table.targetSchema, table.targetTable);
}

function cast(table: TargetTable, i: number, alias = 's'): string {
  return `${alias}.c${i}::${table.columns[i]!.type}`;
}

function keyMatch(table: TargetTable, alias = 't'): string {
  return table.keyIndexes.map((i) => `${alias}.${ident(table.columns[i]!.name)} = ${cast(table, i)}`).join(' AND ');
}

/** A column's new value, or the stored one where the stage row flags it unchanged. */
function newValue(table: TargetTable, i: number, unchanged: ReadonlySet<number>): string {
  if (!unchanged.has(i)) return cast(table, i);
  return `CASE WHEN substr(s._u, ${i + 1}, 1) = '1' THEN t.${ident(table.columns[i]!.name)} ELSE ${cast(table, i)} END`;
}

/**
 * Statements for a collapsed chunk of a keyed table, in order: delete (or soft-delete) the
 * keys that end deleted, then update the keys that exist and insert the ones that do not:
 * with `merge` (PostgreSQL 15 and later) in one MERGE, which joins the stage with the table
 * once instead of twice. The deletes stay a statement of their own, first: a key deleted and
 * one inserted in the same chunk may be equal to the replica though not in their text (citext,
 * a nondeterministic collation), and one MERGE may not touch a row twice.
 */
export function keyedMergeSql(
  table: TargetTable,
  unchangedColumns: number[],
  deleteMode: DeleteMode,
  merge = false,
): string[] {
  const stage = stageTableName(table);
  const unchanged = new Set(unchangedColumns);
  const keys = new Set(table.keyIndexes);
  const deleteSql =
    deleteMode === 'hard'
      ? `DELETE FROM ${target(table)} t USING ${stage} s WHERE s._op = 'D' AND ${keyMatch(table)}`
      : `UPDATE ${target(table)} t SET _deleted = true, _lsn = s._lsn, _synced_at = now() FROM ${stage} s WHERE s._op = 'D' AND ${keyMatch(table)}`;
  const assignments = [
    ...table.columns
      .map((column, i) => (keys.has(i) ? null : `${ident(column.name)} = ${newValue(table, i, unchanged)}`))
      .filter((a): a is string => a !== null),
    '_lsn = s._lsn',
    '_synced_at = now()',
    '_deleted = false',
  ].join(', ');
  if (merge) {
    const mergeSql =
      `MERGE INTO ${target(table)} t USING (SELECT * FROM ${stage} WHERE _op = 'U') s ON ${keyMatch(table)} ` +
      `WHEN MATCHED THEN UPDATE SET ${assignments} ` +
      `WHEN NOT MATCHED THEN INSERT (${insertColumns(table)}) VALUES (${insertValues(table)})`;
    return [deleteSql, mergeSql];
  }
  const updateSql = `UPDATE ${target(table)} t SET ${assignments} FROM ${stage} s WHERE s._op = 'U' AND ${keyMatch(table)}`;
  const insertSql = `INSERT INTO ${target(table)} (${insertColumns(table)}) SELECT ${insertValues(table)} FROM ${stage} s WHERE s._op = 'U' AND NOT EXISTS (SELECT 1 FROM ${target(table)} t WHERE ${keyMatch(table)})`;
  return [deleteSql, updateSql, insertSql];
}

function insertColumns(table: TargetTable): string {
  return [...table.columns.map((c) => ident(c.name)), '_lsn', '_synced_at', '_deleted'].join(', ');
}

function insertValues(table: TargetTable): string {
  return [...table.columns.map((_, i) => cast(table, i)), 's._lsn', 'now()', 'false'].join(', ');
}

/** Append the staged inserts of a table without a key. */
export function appendSql(table: TargetTable): string {
  return `INSERT INTO ${target(table)} (${insertColumns(table)}) SELECT ${insertValues(table)} FROM ${stageTableName(table)} s`;
}

/**
 * For tables without a key: the physical row that equals the old image, compared as text
 * so that types without an equality operator (json, point) work too. Parameters $1..$N
 * are the old values; one row is affected even where duplicates exist, as on the source.
 * Only live rows match: in soft-delete mode a deleted row with the same values is history.
 */
function matchOneRow(table: TargetTable, old: Value[]): { where: string; params: Param[] } {
  const params: Param[] = [];
  const conditions = table.columns.flatMap((column, i) => {
    const value = old[i];
    if (value === undefined) return [];
    params.push(value);
    return [`t.${ident(column.name)}::text IS NOT DISTINCT FROM (${param(params.length, column.type)})::text`];
  });
  const where = `ctid = (SELECT t.ctid FROM ${target(table)} t WHERE ${['NOT t._deleted', ...conditions].join(' AND ')} LIMIT 1)`;
  return { where, params };
}

export function deleteOneRowSql(
  table: TargetTable,
  old: Value[],
  deleteMode: DeleteMode,
): { sql: string; params: Param[] } {
  const { where, params } = matchOneRow(table, old);
  const sql =
    deleteMode === 'hard'
      ? `DELETE FROM ${target(table)} WHERE ${where}`
      : `UPDATE ${target(table)} SET _deleted = true, _synced_at = now() WHERE ${where}`;
  return { sql, params };
}

/** Update one row of a table without a key; `next` holds the new values (undefined = unchanged). */
export function updateOneRowSql(
  table: TargetTable,
  old: Value[],
  next: Value[],
  lsn: string,
): { sql: string; params: Param[] } {
  const { where, params } = matchOneRow(table, old);
  const assignments = table.columns.flatMap((column, i) => {
    const value = next[i];
    if (value === undefined) return [];
    params.push(value);
    return [`${ident(column.name)} = ${param(params.length, column.type)}`];
  });
  params.push(lsn);
  assignments.push(`_lsn = $${params.length}::pg_lsn`, '_synced_at = now()');
  return { sql: `UPDATE ${target(table)} SET ${assignments.join(', ')} WHERE ${where}`, params };
}

/** Every column of the stored row with the given key, as text ($1..$N are the key values). */
export function selectStoredValuesSql(
  table: TargetTable,
  identity: readonly (Buffer | null | symbol)[],
): { sql: string; params: Param[] } {
  const params = table.keyIndexes.map((i) => identity[i] as Buffer | null);
  const where = table.keyIndexes
    .map((i, n) => `${ident(table.columns[i]!.name)} = ${param(n + 1, table.columns[i]!.type)}`)
    .join(' AND ');
  const list = table.columns.map((c) => `${ident(c.name)}::text`).join(', ');
  return { sql: `SELECT ARRAY[${list}] AS v FROM ${target(table)} WHERE ${where}`, params };
}

export function truncateSql(tables: TargetTable[], deleteMode: DeleteMode): string[] {
  if (deleteMode === 'hard') return [`TRUNCATE ${tables.map(target).join(', ')}`];
  return tables.map((t) => `UPDATE ${target(t)} SET _deleted = true, _synced_at = now() WHERE NOT _deleted`);
}
