/**
 * What elt reports about itself, read from the control schema: the replication state of a
 * slot, its tables, its resync and prune jobs, a snapshot's copies under way. One set of
 * queries for every reader, so the API (`/ready`, `/v1/status`, `/v1/tables`, `/v1/resync`,
 * `/v1/prune`) and `elt status` show the same figures.
 * Timestamps are ISO 8601 in UTC with microseconds, whatever the session's TimeZone; counts
 * are numbers. Read-only.
 */
import type { Queryable } from './replica-columns.js';

/** A timestamptz column as ISO 8601 in UTC with microseconds, whatever the session's TimeZone and type parsers. */
function iso(column: string, alias = column.replace(/^.*\./, '')): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${alias}`;
}

/** What decides readiness: the replicator's last word about the slot. */
export interface ReadinessRow {
  phase: string;
  status: string;
  wal_status: string | null;
  last_error: string | null;
  /** Seconds since the last heartbeat. */
  age: number | null;
}

export async function readReadiness(db: Queryable, slot: string): Promise<ReadinessRow | null> {
  const { rows } = await db.query(
    `SELECT phase, status, wal_status, last_error, extract(epoch FROM now() - heartbeat_at)::float8 AS age
     FROM elt.replication_state WHERE slot_name = $1`,
    [slot],
  );
  return (rows[0] as ReadinessRow | undefined) ?? null;
}

export interface StateRow {
  slot: string;
  phase: string;
  status: string;
  host: string | null;
  pid: number | null;
  started_at: string | null;
  heartbeat_at: string | null;
  heartbeat_age_seconds: number | null;
  applied_lsn: string | null;
  applied_commit_at: string | null;
  applied_at: string | null;
  received_lsn: string | null;
  confirmed_lsn: string | null;
  source_wal_lsn: string | null;
  lag_bytes: number | null;
  lag_seconds: number | null;
  retained_wal_bytes: number | null;
  slot_active: boolean | null;
  wal_status: string | null;
  last_error: string | null;
  last_error_at: string | null;
  /** How many tables are in each state. */
  by_state: Record<string, number>;
}

/**
 * The replication state of the slot, in one statement (one snapshot of elt.*). The source-side
 * figures (source WAL position, confirmed LSN, lag, retained WAL) are the ones the last
 * heartbeat recorded together; lag in bytes is computed from that same pair and never
 * negative. The applied LSN is live (written with every apply transaction), so the source
 * position shown is at least the applied LSN: the source has certainly reached it.
 */
export async function readState(db: Queryable, slot: string): Promise<StateRow | null> {
  const { rows } = await db.query(
    `SELECT s.slot_name AS slot, s.phase, s.status, s.host, s.pid, ${iso('s.started_at')}, ${iso('s.heartbeat_at')},
       round(greatest(extract(epoch FROM now() - s.heartbeat_at), 0)::numeric, 3)::float8 AS heartbeat_age_seconds,
       s.applied_lsn::text AS applied_lsn, ${iso('s.applied_commit_at')}, ${iso('s.applied_at')}, s.received_lsn::text AS received_lsn,
       s.confirmed_lsn::text AS confirmed_lsn,
       (CASE WHEN s.applied_lsn > s.source_wal_lsn THEN s.applied_lsn ELSE s.source_wal_lsn END)::text AS source_wal_lsn,
       greatest(pg_wal_lsn_diff(s.source_wal_lsn, s.confirmed_lsn), 0)::float8 AS lag_bytes,
       round(greatest(s.lag_seconds, 0)::numeric, 3)::float8 AS lag_seconds,
       s.retained_wal_bytes::float8 AS retained_wal_bytes, s.slot_active, s.wal_status, s.last_error, ${iso('s.last_error_at')},
       (SELECT coalesce(json_object_agg(c.state, c.n), '{}') FROM
         (SELECT t.state, count(*)::int AS n FROM elt.tables t WHERE t.slot_name = s.slot_name GROUP BY t.state) c) AS by_state
     FROM elt.replication_state s WHERE s.slot_name = $1`,
    [slot],
  );
  return (rows[0] as StateRow | undefined) ?? null;
}

export interface TableRow {
  table: string;
  source_schema: string;
  source_table: string;
  target: string;
  state: string;
  rows_estimated: number | null;
  rows_copied: number;
  snapshot_started_at: string | null;
  snapshot_done_at: string | null;
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
  last_change_lsn: string | null;
  last_change_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  active_resync_job_id: number | null;
  /** False when ELT_INCLUDE_TABLES / ELT_EXCLUDE_TABLES leave the table out. */
  selected: boolean;
  /** Source columns ELT_EXCLUDE_COLUMNS leaves out of the replica, in column order. */
  excluded_columns: string[];
  /** Source columns ELT_MASK_COLUMNS masks, with the method (hash, null, redact:N), in column order. */
  masked_columns: { column: string; method: string }[];
}

const TABLE_COLUMNS = `
  t.source_schema || '.' || t.source_table AS table, t.source_schema, t.source_table,
  t.target_schema || '.' || t.target_table AS target, t.state,
  t.rows_estimated::float8 AS rows_estimated, t.rows_copied::float8 AS rows_copied,
  ${iso('t.snapshot_started_at')}, ${iso('t.snapshot_done_at')},
  t.inserts::float8 AS inserts, t.updates::float8 AS updates, t.deletes::float8 AS deletes, t.truncates::float8 AS truncates,
  t.last_change_lsn::text AS last_change_lsn, ${iso('t.last_change_at')}, t.last_error, ${iso('t.last_error_at')},
  (SELECT min(a.job_id)::float8 FROM elt.resync_job_tables a
   WHERE a.slot_name = t.slot_name AND a.source_schema = t.source_schema AND a.source_table = t.source_table
     AND a.state IN ('queued', 'running')) AS active_resync_job_id, t.selected,
  ARRAY(SELECT e->>'column' FROM jsonb_array_elements(t.column_policy) e
        WHERE e->>'policy' = 'exclude' ORDER BY (e->>'attnum')::int) AS excluded_columns,
  coalesce((SELECT json_agg(json_build_object('column', e->>'column', 'method', e->>'policy') ORDER BY (e->>'attnum')::int)
            FROM jsonb_array_elements(t.column_policy) e WHERE e->>'policy' <> 'exclude'), '[]') AS masked_columns`;

/** The slot's tables, by name; only those in `filter.state`, or only the one named `filter.name` (schema.table). */
export async function readTables(
  db: Queryable,
  slot: string,
  filter: { state?: string; name?: string } = {},
): Promise<TableRow[]> {
  const { rows } = await db.query(
    `SELECT ${TABLE_COLUMNS} FROM elt.tables t
     WHERE t.slot_name = $1 AND ($2::text IS NULL OR t.state = $2) AND ($3::text IS NULL OR t.source_schema || '.' || t.source_table = $3)
     ORDER BY t.source_schema, t.source_table`,
    [slot, filter.state ?? null, filter.name ?? null],
  );
  return rows as TableRow[];
}

export interface JobRow {
  id: number;
  slot: string;
  state: string;
  requested_at: string;
  requested_by: string | null;
  started_at: string | null;
  finished_at: string | null;
  cancel_requested: boolean;
  error: string | null;
  tables_total: number;
  tables_done: number;
  rows_copied: number;
  rows_estimated: number | null;
}

const JOB_COLUMNS = `
  j.id::float8 AS id, j.slot_name AS slot, j.state, ${iso('j.requested_at')}, j.requested_by, ${iso('j.started_at')},
  ${iso('j.finished_at')}, j.cancel_requested, j.error,
  coalesce(p.tables_total, 0)::float8 AS tables_total, coalesce(p.tables_done, 0)::float8 AS tables_done,
  coalesce(p.rows_copied, 0)::float8 AS rows_copied, p.rows_estimated::float8 AS rows_estimated`;

const JOB_PROGRESS = `
  LEFT JOIN LATERAL (
    SELECT count(*) AS tables_total, count(*) FILTER (WHERE jt.state = 'succeeded') AS tables_done,
      sum(jt.rows_copied) AS rows_copied, sum(jt.rows_estimated) AS rows_estimated
    FROM elt.resync_job_tables jt WHERE jt.job_id = j.id
  ) p ON true`;

/** The slot's newest resync jobs first, with their progress; only those in `state` when given. */
export async function readJobs(db: Queryable, slot: string, limit: number, state?: string): Promise<JobRow[]> {
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS} FROM elt.resync_jobs j ${JOB_PROGRESS}
     WHERE j.slot_name = $1 AND ($2::text IS NULL OR j.state = $2) ORDER BY j.id DESC LIMIT $3`,
    [slot, state ?? null, limit],
  );
  return rows as JobRow[];
}

/** One resync job of the slot, or null. */
export async function readJob(db: Queryable, slot: string, id: string | number): Promise<JobRow | null> {
  const { rows } = await db.query(
    `SELECT ${JOB_COLUMNS} FROM elt.resync_jobs j ${JOB_PROGRESS} WHERE j.id = $1::bigint AND j.slot_name = $2`,
    [String(id), slot],
  );
  return (rows[0] as JobRow | undefined) ?? null;
}

export interface JobTableRow {
  table: string;
  state: string;
  rows_copied: number;
  rows_estimated: number | null;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

/** The tables of a resync job, by name. */
export async function readJobTables(db: Queryable, id: string | number): Promise<JobTableRow[]> {
  const { rows } = await db.query(
    `SELECT source_schema || '.' || source_table AS table, state, rows_copied::float8 AS rows_copied,
       rows_estimated::float8 AS rows_estimated, ${iso('started_at')}, ${iso('finished_at')}, error
     FROM elt.resync_job_tables WHERE job_id = $1::bigint ORDER BY source_schema, source_table`,
    [String(id)],
  );
  return rows as JobTableRow[];
}

/** The last verification of each table (elt verify); none before the schema has elt.verify_results. */
export async function readVerifyResults(db: Queryable, slot: string): Promise<Record<string, unknown>[]> {
  const { rows } = await db
    .query(
      `SELECT v.source_schema || '.' || v.source_table AS table, v.outcome, v.rows_checked::float8 AS rows_checked,
         v.rows_differing::float8 AS rows_differing, v.differences, v.reason, v.repair_job_id::float8 AS repair_job_id,
         ${iso('v.started_at')}, ${iso('v.finished_at')}
       FROM elt.verify_results v WHERE v.slot_name = $1 ORDER BY v.source_schema, v.source_table`,
      [slot],
    )
    .catch((error: { code?: string }) => {
      if (error.code === '42P01') return { rows: [] };
      throw error;
    });
  return rows as Record<string, unknown>[];
}

/** A prune job as the API shows it (older_than is formatted by the caller). */
export interface PruneJobRow {
  id: number;
  slot: string;
  state: string;
  older_than_seconds: number;
  cutoff: string | null;
  requested_at: string;
  requested_by: string | null;
  started_at: string | null;
  finished_at: string | null;
  rows_pruned: number;
  tables: Record<string, number>;
  error: string | null;
}

/** A prune job's columns as PruneJobRow has them (also what queuing one returns). */
export const PRUNE_JOB_COLUMNS = `id::float8 AS id, slot_name AS slot, state, older_than_seconds::float8 AS older_than_seconds, ${iso('cutoff')},
  ${iso('requested_at')}, requested_by, ${iso('started_at')}, ${iso('finished_at')}, rows_pruned::float8 AS rows_pruned, tables, error`;

/** The slot's newest prune jobs first; only those in `state` when given. */
export async function readPruneJobs(
  db: Queryable,
  slot: string,
  limit: number,
  state?: string,
): Promise<PruneJobRow[]> {
  const { rows } = await db.query(
    `SELECT ${PRUNE_JOB_COLUMNS} FROM elt.prune_jobs WHERE slot_name = $1 AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT $3`,
    [slot, state ?? null, limit],
  );
  return rows as PruneJobRow[];
}

/** One prune job of the slot, or null. */
export async function readPruneJob(db: Queryable, slot: string, id: string | number): Promise<PruneJobRow | null> {
  const { rows } = await db.query(
    `SELECT ${PRUNE_JOB_COLUMNS} FROM elt.prune_jobs WHERE id = $1::bigint AND slot_name = $2`,
    [String(id), slot],
  );
  return (rows[0] as PruneJobRow | undefined) ?? null;
}

/** A table the snapshot is copying, with the destination's COPY progress (pg_stat_progress_copy). */
export interface SnapshotCopyRow {
  /** schema.table on the source */
  table: string;
  rows_estimated: string | null;
  rows: string;
  bytes: string;
}

/** The copies a snapshot has under way (needs the replicator's role or pg_read_all_stats to see them). */
export async function readSnapshotCopies(db: Queryable, slot: string): Promise<SnapshotCopyRow[]> {
  const { rows } = await db.query(
    `SELECT t.source_schema || '.' || t.source_table AS table, t.rows_estimated::text AS rows_estimated,
       p.tuples_processed::text AS rows, p.bytes_processed::text AS bytes
     FROM elt.tables t JOIN pg_stat_progress_copy p ON p.relid = to_regclass(format('%I.%I', t.target_schema, t.target_table))
     WHERE t.slot_name = $1 AND t.state = 'snapshotting' ORDER BY 1`,
    [slot],
  );
  return rows as SnapshotCopyRow[];
}
