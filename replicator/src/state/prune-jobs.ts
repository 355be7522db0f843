/**
 * Prune jobs in elt.prune_jobs as the replicator (their only executor) sees them: the API
 * queues them (queuePruneJob), the retention setting starts them; each records its cutoff, the rows it
 * removed per table and how it ended.
 */
import type { ClientBase } from 'pg';
import { PRUNE_CHANNEL } from './control.js';
import { PRUNE_JOB_COLUMNS, type PruneJobRow } from './read-model.js';
import type { Queryable } from './replica-columns.js';

/** Job rows kept after they finish. */
const KEEP_FINISHED_DAYS = 30;

export interface PruneJob {
  id: number;
  olderThanSeconds: number;
  /** Rows marked deleted before this (destination clock, as `_synced_at`) go; text, sent back as is. */
  cutoff: string;
  requestedBy: string | null;
}

export interface ReplicaTable {
  sourceSchema: string;
  sourceTable: string;
}

const RETURNING = `RETURNING id::float8 AS id, older_than_seconds::float8 AS "olderThanSeconds", cutoff::text AS cutoff, requested_by AS "requestedBy"`;

/**
 * Queue a job and notify the replicator, in one statement (one transaction), and return the job
 * as queued: read back later, the replicator may already have claimed it.
 */
export async function queuePruneJob(
  db: Queryable,
  slot: string,
  olderThanSeconds: number,
  requestedBy: string,
): Promise<PruneJobRow> {
  const { rows } = await db.query(
    `WITH job AS (INSERT INTO elt.prune_jobs (slot_name, older_than_seconds, requested_by) VALUES ($1, $2, $3) RETURNING *),
     notified AS (SELECT pg_notify($4, id::text) FROM job)
     SELECT ${PRUNE_JOB_COLUMNS} FROM job, notified`,
    [slot, olderThanSeconds, requestedBy, PRUNE_CHANNEL],
  );
  return rows[0] as PruneJobRow;
}

/** Jobs a previous run left running start over. */
export async function requeueInterruptedPruneJobs(db: ClientBase, slot: string): Promise<number> {
  const result = await db.query(
    `UPDATE elt.prune_jobs SET state = 'queued', started_at = NULL, cutoff = NULL, rows_pruned = 0, tables = '{}' WHERE slot_name = $1 AND state = 'running'`,
    [slot],
  );
  return result.rowCount ?? 0;
}

export async function hasQueuedPruneJob(db: ClientBase, slot: string): Promise<boolean> {
  const { rows } = await db.query<{ queued: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM elt.prune_jobs WHERE slot_name = $1 AND state = 'queued') AS queued",
    [slot],
  );
  return rows[0]?.queued ?? false;
}

/** Take the oldest queued job and fix its cutoff, or null. */
export async function claimPruneJob(db: ClientBase, slot: string): Promise<PruneJob | null> {
  const { rows } = await db.query<PruneJob>(
    `UPDATE elt.prune_jobs SET state = 'running', started_at = now(), cutoff = now() - make_interval(secs => older_than_seconds)
     WHERE id = (SELECT id FROM elt.prune_jobs WHERE slot_name = $1 AND state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
     ${RETURNING}`,
    [slot],
  );
  return rows[0] ?? null;
}

/** A pass the retention setting asks for, running from the start; old finished jobs are forgotten. */
export async function startRetentionJob(
  db: ClientBase,
  slot: string,
  olderThanSeconds: number,
  requestedBy: string,
): Promise<PruneJob> {
  await db.query(
    `DELETE FROM elt.prune_jobs WHERE slot_name = $1 AND finished_at < now() - make_interval(days => $2)`,
    [slot, KEEP_FINISHED_DAYS],
  );
  const { rows } = await db.query<PruneJob>(
    `INSERT INTO elt.prune_jobs (slot_name, state, older_than_seconds, requested_by, started_at, cutoff)
     VALUES ($1, 'running', $2::bigint, $3, now(), now() - make_interval(secs => $2::bigint)) ${RETURNING}`,
    [slot, olderThanSeconds, requestedBy],
  );
  return rows[0]!;
}

/** Replica tables that keep deleted rows (they have `_deleted`) and are streaming. */
export async function prunableTables(db: ClientBase, slot: string): Promise<ReplicaTable[]> {
  const { rows } = await db.query<ReplicaTable>(
    `SELECT t.source_schema AS "sourceSchema", t.source_table AS "sourceTable" FROM elt.tables t
     WHERE t.slot_name = $1 AND t.state = 'streaming' AND EXISTS (
       SELECT 1 FROM pg_attribute a
       WHERE a.attrelid = to_regclass(quote_ident(t.target_schema) || '.' || quote_ident(t.target_table)) AND a.attname = '_deleted' AND NOT a.attisdropped)
     ORDER BY 1, 2`,
    [slot],
  );
  return rows;
}

/** Where the table's replica is now, or null when it is no longer streaming (being resynced, stopped, gone). */
export async function streamingTarget(
  db: ClientBase,
  slot: string,
  table: ReplicaTable,
): Promise<{ schema: string; table: string } | null> {
  const { rows } = await db.query<{ schema: string; table: string }>(
    `SELECT target_schema AS schema, target_table AS table FROM elt.tables
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3 AND state = 'streaming'`,
    [slot, table.sourceSchema, table.sourceTable],
  );
  return rows[0] ?? null;
}

export async function recordPruned(db: ClientBase, jobId: number, table: string, rows: number): Promise<void> {
  await db.query(
    `UPDATE elt.prune_jobs SET rows_pruned = rows_pruned + $3,
       tables = jsonb_set(tables, ARRAY[$2::text], to_jsonb(coalesce((tables ->> $2::text)::bigint, 0) + $3))
     WHERE id = $1`,
    [jobId, table, rows],
  );
}

export async function finishPruneJob(db: ClientBase, jobId: number, error: string | null): Promise<void> {
  await db.query(
    `UPDATE elt.prune_jobs SET state = CASE WHEN $2::text IS NULL THEN 'succeeded' ELSE 'failed' END, finished_at = now(), error = $2 WHERE id = $1`,
    [jobId, error],
  );
}
