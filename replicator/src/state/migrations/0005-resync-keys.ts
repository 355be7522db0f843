/**
 * Migration 5: a resync job's table may carry the keys to copy again (a repair of the rows
 * `elt verify` found differing) instead of the whole table: {"columns": [key column names in
 * the source], "values": [[each key's values as the source prints them], …]}. NULL is the
 * whole table, as before.
 */
export const sql = `
ALTER TABLE elt.resync_job_tables ADD COLUMN IF NOT EXISTS keys jsonb;
`;
