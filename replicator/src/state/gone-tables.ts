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
