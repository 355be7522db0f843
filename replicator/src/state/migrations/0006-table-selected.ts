/**
 * Migration 6: whether the table is selected by ELT_INCLUDE_TABLES / ELT_EXCLUDE_TABLES. A
 * table left out by the selection is `excluded` like a table that cannot be replicated, but
 * unlike it, it is copied online once the selection takes it again: this column tells them
 * apart (never the text of last_error). Every existing row was selected.
 */
export const sql = `
ALTER TABLE elt.tables ADD COLUMN IF NOT EXISTS selected boolean NOT NULL DEFAULT true;
`;
