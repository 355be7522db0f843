/**
 * The rows of elt.tables whose source table may be gone (../schema/gone-tables.ts decides):
 * those that stream or stopped in error, with the source OID their replica holds; and the
 * mark that says it is gone.
 */
import type { ClientBase } from 'pg';

export interface TableWithSource {
  schema: string;
  table: string;
  oid: number;
}

/** The rows that stream or stopped in error and know their source table's OID. */
export async function readTablesWithSource(db: ClientBase, slot: string): Promise<TableWithSource[]> {
  const { rows } = await db.query<TableWithSource>(
    `SELECT source_schema AS schema, source_table AS table, source_oid::int8::float8 AS oid FROM elt.tables
     WHERE slot_name = $1 AND state IN ('streaming', 'error') AND source_oid IS NOT NULL AND source_gone_at IS NULL`,
    [slot],
  );
  return rows;
}

/**
 * The source table is gone: the row becomes `excluded` with the reason. Only while it still holds
 * that source table and still streams or stopped in error (a resync or a replacement since wins).
 * True when the row was marked.
 */
export async function markSourceGone(
  db: ClientBase,
  slot: string,
  gone: TableWithSource,
  reason: string,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE elt.tables SET state = 'excluded', last_error = $5, last_error_at = now(), source_gone_at = now()
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3 AND source_oid = $4
       AND state IN ('streaming', 'error') AND source_gone_at IS NULL`,
    [slot, gone.schema, gone.table, gone.oid, reason],
  );
  return result.rowCount === 1;
}

/**
 * The rows that still hold a source table under a former name in its schema (a rename the stream
 * has not followed yet, since the table had no change): their replica and the target it is in.
 */
export async function readFormerNames(
  db: ClientBase,
  slot: string,
  schema: string,
  name: string,
  oid: number,
): Promise<{ table: string; target: string | null }[]> {
  const { rows } = await db.query<{ table: string; target: string | null }>(
    `SELECT source_table AS table,
       CASE WHEN to_regclass(format('%I.%I', target_schema, target_table)) IS NOT NULL
         THEN format('%I.%I', target_schema, target_table) END AS target
     FROM elt.tables WHERE slot_name = $1 AND source_schema = $2 AND source_table <> $3 AND source_oid = $4
       AND source_gone_at IS NULL`,
    [slot, schema, name, oid],
  );
  return rows;
}

/** A row whose source table is now copied under another name, and whose replica could not be dropped: it says so. */
export async function markRenamedAway(
  db: ClientBase,
  slot: string,
  schema: string,
  table: string,
  reason: string,
): Promise<void> {
  await db.query(
    `UPDATE elt.tables SET state = 'excluded', last_error = $4, last_error_at = now(), source_gone_at = now()
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table, reason],
  );
}
