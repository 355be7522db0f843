/**
 * Migration 1: the control schema as elt 0.1 created it, kept exactly as released (tables,
 * columns in the same order, the index). Every statement says IF NOT EXISTS, so it also adopts
 * a 0.1 schema that was created before the schema had a version: its tables and rows stay as
 * they are, and the version is recorded. Never change it: add a migration after it.
 */
export const sql = `
CREATE SCHEMA IF NOT EXISTS elt;
CREATE TABLE IF NOT EXISTS elt.replication_state (
  slot_name          text PRIMARY KEY,
  phase              text NOT NULL CHECK (phase IN ('snapshotting', 'streaming')),
  snapshot_lsn       pg_lsn,
  applied_lsn        pg_lsn,
  applied_commit_at  timestamptz,
  applied_at         timestamptz,
  received_lsn       pg_lsn,
  confirmed_lsn      pg_lsn,
  source_wal_lsn     pg_lsn,
  lag_bytes          bigint,
  lag_seconds        double precision,
  retained_wal_bytes bigint,
  slot_active        boolean,
  wal_status         text,
  heartbeat_at       timestamptz,
  status             text NOT NULL DEFAULT 'starting',
  last_error         text,
  last_error_at      timestamptz,
  started_at         timestamptz,
  host               text,
  pid                integer
);
COMMENT ON COLUMN elt.replication_state.applied_lsn IS
  'Source position up to which every change is committed here: the end LSN of the last source transaction applied (written in the same transaction as its rows), or further on when the source wrote nothing of ours since.';
CREATE TABLE IF NOT EXISTS elt.tables (
  slot_name           text NOT NULL,
  source_schema       text NOT NULL,
  source_table        text NOT NULL,
  target_schema       text NOT NULL,
  target_table        text NOT NULL,
  state               text NOT NULL CHECK (state IN ('snapshotting', 'streaming', 'resyncing', 'error', 'excluded')),
  rows_estimated      bigint,
  rows_copied         bigint NOT NULL DEFAULT 0,
  snapshot_started_at timestamptz,
  snapshot_done_at    timestamptz,
  inserts             bigint NOT NULL DEFAULT 0,
  updates             bigint NOT NULL DEFAULT 0,
  deletes             bigint NOT NULL DEFAULT 0,
  truncates           bigint NOT NULL DEFAULT 0,
  last_change_lsn     pg_lsn,
  last_change_at      timestamptz,
  last_error          text,
  last_error_at       timestamptz,
  PRIMARY KEY (slot_name, source_schema, source_table)
);
-- Identity of each replicated table on the source: its relation OID, its storage (relfilenodes,
-- to tell a rewrite), the highest attnum seen, and which source attnum each replica column holds.
-- Names and positions are not identity: ./replica-columns.ts.
ALTER TABLE elt.tables ADD COLUMN IF NOT EXISTS source_oid oid;
ALTER TABLE elt.tables ADD COLUMN IF NOT EXISTS source_storage text;
ALTER TABLE elt.tables ADD COLUMN IF NOT EXISTS source_natts smallint;
CREATE TABLE IF NOT EXISTS elt.table_columns (
  slot_name         text NOT NULL,
  source_schema     text NOT NULL,
  source_table      text NOT NULL,
  attnum            smallint NOT NULL,
  column_name       text NOT NULL,
  PRIMARY KEY (slot_name, source_schema, source_table, attnum),
  FOREIGN KEY (slot_name, source_schema, source_table) REFERENCES elt.tables ON UPDATE CASCADE ON DELETE CASCADE
);
-- Resync requests: the API inserts them (and may set cancel_requested); the replicator runs them.
CREATE TABLE IF NOT EXISTS elt.resync_jobs (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slot_name         text NOT NULL,
  state             text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  requested_at      timestamptz NOT NULL DEFAULT now(),
  requested_by      text,
  started_at        timestamptz,
  finished_at       timestamptz,
  cancel_requested  boolean NOT NULL DEFAULT false,
  error             text
);
CREATE TABLE IF NOT EXISTS elt.resync_job_tables (
  job_id            bigint NOT NULL REFERENCES elt.resync_jobs (id) ON DELETE CASCADE,
  slot_name         text NOT NULL,
  source_schema     text NOT NULL,
  source_table      text NOT NULL,
  state             text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  rows_copied       bigint NOT NULL DEFAULT 0,
  rows_estimated    bigint,
  started_at        timestamptz,
  finished_at       timestamptz,
  error             text,
  PRIMARY KEY (job_id, source_schema, source_table)
);
-- Changes to a table made while a resync copies it; replayed onto the new copy before the swap.
CREATE TABLE IF NOT EXISTS elt.resync_delta (
  job_id            bigint NOT NULL REFERENCES elt.resync_jobs (id) ON DELETE CASCADE,
  seq               bigint GENERATED ALWAYS AS IDENTITY,
  source_schema     text NOT NULL,
  source_table      text NOT NULL,
  change            jsonb NOT NULL,
  PRIMARY KEY (job_id, seq)
);
-- The partitions of each partitioned table as last seen (OID and relfilenode of every leaf):
-- a TRUNCATE or DETACH of one partition is never sent by the stream, only seen here.
CREATE TABLE IF NOT EXISTS elt.partition_leaves (
  slot_name         text NOT NULL,
  source_schema     text NOT NULL,
  source_table      text NOT NULL,
  leaves            jsonb NOT NULL,
  seen_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (slot_name, source_schema, source_table)
);
-- At most one queued or running resync per table.
CREATE UNIQUE INDEX IF NOT EXISTS resync_job_tables_one_active
  ON elt.resync_job_tables (slot_name, source_schema, source_table) WHERE state IN ('queued', 'running');
`;
