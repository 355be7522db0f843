/**
 * Migration 8: when the source table a row replicated is gone from where it was (dropped, or
 * moved to another schema), the row is `excluded` with the reason and says since when in
 * `source_gone_at`; its replica keeps the rows it had then. A table created again under the
 * name is copied as a new table, and the column is cleared.
 */
export const sql = `
ALTER TABLE elt.tables ADD COLUMN IF NOT EXISTS source_gone_at timestamptz;
`;
