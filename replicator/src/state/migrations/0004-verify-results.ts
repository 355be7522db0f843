/**
 * Migration 3: the last verification of each table (`elt verify` and the background
 * verifier write it, GET /v1/verify reads it): when, how many rows were compared and how many
 * differ, the first differing keys, and the resync queued to repair them.
 */
export const sql = `
CREATE TABLE elt.verify_results (
  slot_name         text NOT NULL,
  source_schema     text NOT NULL,
  source_table      text NOT NULL,
  outcome           text NOT NULL CHECK (outcome IN ('equal', 'differs', 'skipped', 'failed')),
  rows_checked      bigint NOT NULL DEFAULT 0,
  rows_differing    bigint NOT NULL DEFAULT 0,
  differences       jsonb NOT NULL DEFAULT '[]',
  reason            text,
  repair_job_id     bigint,
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz NOT NULL,
  PRIMARY KEY (slot_name, source_schema, source_table)
);
`;
