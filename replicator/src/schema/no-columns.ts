/**
 * A table with no columns to copy (none, or only generated ones): elt copies and applies rows
 * by their columns' values, so the replica has nothing to hold them by. Such a table stops alone
 * with this reason wherever it is met: the plan of a snapshot or a resync (./replica-ddl.ts), a
 * table that appears or loses its last column while streaming (./mapping.ts), the resync's read
 * of the source table (../resync/table-resync.ts); never on the SQL built for it.
 */
import { TableFailure } from '../failures.js';

/** The failure that stops such a table (a replica plan's `problem` is its tableFailureReason). */
export function noColumnsFailure(schema: string, table: string): TableFailure {
  return new TableFailure(
    schema,
    table,
    `The source table ${schema}.${table} has no columns to copy: elt copies and applies rows by their columns' values.`,
    'Add a column to it (a key, say) and resync the table, or leave it out (ELT_EXCLUDE_TABLES).',
  );
}
