/**
 * Migration 7: each table's column policy (ELT_EXCLUDE_COLUMNS, ELT_MASK_COLUMNS) as its replica
 * holds it: `[{attnum, column, policy}]` for the columns left out or masked (by attnum: names
 * change), and a fingerprint of the hash key when a column is hashed. A start or a rename that
 * gives another policy resyncs the table, so that its rows are all one way. Every existing row
 * was replicated without a policy.
 */
export const sql = `
ALTER TABLE elt.tables ADD COLUMN IF NOT EXISTS column_policy jsonb NOT NULL DEFAULT '[]';
ALTER TABLE elt.tables ADD COLUMN IF NOT EXISTS mask_key_fingerprint text;
`;
