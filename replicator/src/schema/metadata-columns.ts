/**
 * The columns elt adds to every replica table, declared once:
 *
 * - `_synced_at`: when elt last wrote the row (dbt's incremental models and freshness read it);
 * - `_lsn`: the source commit LSN of the row's last change;
 * - `_deleted`: true for a row deleted on the source, in soft-delete mode.
 *
 * A source column with one of these names cannot be replicated beside them: such a table is
 * stopped with that reason (`metadataClash`) instead of silently mixing the two.
 */

export const METADATA_COLUMNS = ['_synced_at', '_lsn', '_deleted'] as const;

/** The metadata columns as column definitions of CREATE TABLE. */
export const METADATA_COLUMN_DDL = `_synced_at timestamptz NOT NULL DEFAULT now(), _lsn pg_lsn, _deleted boolean NOT NULL DEFAULT false`;

/** The source columns whose names clash with the metadata columns. */
export function metadataClash(columnNames: readonly string[]): string[] {
  return columnNames.filter((name) => (METADATA_COLUMNS as readonly string[]).includes(name));
}

/** The reason a table with clashing columns is stopped, and what to do. */
export function metadataClashReason(table: string, columns: string[]): string {
  return (
    `The source table ${table} has the column${columns.length > 1 ? 's' : ''} ${columns.join(', ')}, ` +
    `which elt adds to every replica table (${METADATA_COLUMNS.join(', ')}). ` +
    'Rename the source column, or leave the table out of the publication.'
  );
}
