/**
 * The resync queue in the destination's control schema, as the replicator (its only
 * executor) sees it. The API inserts jobs and may ask for their cancellation.
 */
import type { ClientBase } from 'pg';
import type { Queryable } from './replica-columns.js';

/** The keys a repair copies again (elt.resync_job_tables.keys); a job table without them copies the whole table. */
export interface RepairKeys {
  /** The key's source columns. */
  columns: string[];
  /** Each key's values, in the order of `columns`, as the source prints them. */
  values: string[][];
}

export interface JobTable {
  schema: string;
  table: string;
  state: string;
  keys: RepairKeys | null;
}

/**
 * Why a table whose resync a restart interrupted, and which no job will copy again, is stopped:
 * its changes were skipped from the restart on (see ../apply/stopped-tables.ts).
 */
export const INTERRUPTED_RESYNC_REASON =
  'a restart interrupted its resync, which was then cancelled, so its changes since were skipped: resync the table';

/**
 * Jobs a previous run left half done start over (their copies and deltas are discarded). One
 * whose cancellation was asked for meanwhile ends cancelled instead, and its tables stop.
 */
export async function requeueInterruptedJobs(db: ClientBase, slot: string): Promise<number> {
  await db.query(
    `DELETE FROM elt.resync_delta d USING elt.resync_jobs j WHERE d.job_id = j.id AND j.slot_name = $1 AND j.state = 'running'`,
    [slot],
  );
  await db.query(
    `WITH cancelled AS (
       UPDATE elt.resync_jobs SET state = 'cancelled', finished_at = now()
        WHERE slot_name = $1 AND state = 'running' AND cancel_requested RETURNING id),
     job_tables AS (
       UPDATE elt.resync_job_tables jt SET state = 'cancelled', finished_at = now()
         FROM cancelled c WHERE jt.job_id = c.id AND jt.state IN ('queued', 'running')
       RETURNING jt.source_schema, jt.source_table)
     UPDATE elt.tables t SET state = 'error', last_error = $2, last_error_at = now()
       FROM job_tables jt
      WHERE t.slot_name = $1 AND t.source_schema = jt.source_schema AND t.source_table = jt.source_table
        AND t.state = 'resyncing'`,
    [slot, INTERRUPTED_RESYNC_REASON],
  );
  await db.query(
    `UPDATE elt.resync_job_tables SET state = 'queued', rows_copied = 0, started_at = NULL
     WHERE slot_name = $1 AND state = 'running'`,
    [slot],
  );
  const result = await db.query(
    `UPDATE elt.resync_jobs SET state = 'queued', started_at = NULL WHERE slot_name = $1 AND state = 'running'`,
    [slot],
  );
  return result.rowCount ?? 0;
}

/** Take the oldest queued job, or null. */
export async function claimNextJob(db: ClientBase, slot: string): Promise<number | null> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE elt.resync_jobs SET state = 'running', started_at = now()
     WHERE id = (SELECT id FROM elt.resync_jobs WHERE slot_name = $1 AND state = 'queued' AND NOT cancel_requested
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING id`,
    [slot],
  );
  return rows[0] ? Number(rows[0].id) : null;
}

export async function jobTables(db: ClientBase, jobId: number): Promise<JobTable[]> {
  const { rows } = await db.query<JobTable>(
    `SELECT source_schema AS schema, source_table AS table, state, keys FROM elt.resync_job_tables WHERE job_id = $1 ORDER BY source_schema, source_table`,
    [jobId],
  );
  return rows;
}

/**
 * Mark a job's table running, if it is still queued under that name. False when it is not:
 * the stream followed a rename of the table meanwhile (./resync-jobs.ts followRenamedTable,
 * in the apply transaction, whose commit this statement waits for), so the job's tables must
 * be read again.
 */
export async function claimJobTable(
  db: Queryable,
  jobId: number,
  t: { schema: string; table: string },
): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE elt.resync_job_tables SET state = 'running', started_at = now()
     WHERE job_id = $1 AND source_schema = $2 AND source_table = $3 AND state = 'queued' RETURNING 1`,
    [jobId, t.schema, t.table],
  );
  return rows.length > 0;
}

export async function cancelRequested(db: ClientBase, jobId: number): Promise<boolean> {
  const { rows } = await db.query<{ cancel: boolean }>(
    'SELECT cancel_requested AS cancel FROM elt.resync_jobs WHERE id = $1',
    [jobId],
  );
  return rows[0]?.cancel ?? true;
}

export async function updateJobTable(
  db: Queryable,
  jobId: number,
  t: { schema: string; table: string },
  change: { state?: string; rowsCopied?: number; rowsEstimated?: number; error?: string },
): Promise<void> {
  await db.query(
    `UPDATE elt.resync_job_tables SET state = coalesce($4::text, state), rows_copied = coalesce($5::bigint, rows_copied),
       rows_estimated = coalesce($6::bigint, rows_estimated), error = coalesce($7::text, error),
       started_at = CASE WHEN $4::text = 'running' THEN now() ELSE started_at END,
       finished_at = CASE WHEN $4::text IN ('succeeded', 'failed', 'cancelled') THEN now() ELSE finished_at END
     WHERE job_id = $1 AND source_schema = $2 AND source_table = $3`,
    [
      jobId,
      t.schema,
      t.table,
      change.state ?? null,
      change.rowsCopied ?? null,
      change.rowsEstimated ?? null,
      change.error ?? null,
    ],
  );
}

export async function finishJob(
  db: ClientBase,
  jobId: number,
  state: 'succeeded' | 'failed' | 'cancelled',
  error?: string,
): Promise<void> {
  await db.query(
    `UPDATE elt.resync_job_tables SET state = $2, finished_at = now() WHERE job_id = $1 AND state IN ('queued', 'running')`,
    [jobId, state === 'succeeded' ? 'cancelled' : state],
  );
  await db.query(`UPDATE elt.resync_jobs SET state = $2, finished_at = now(), error = $3 WHERE id = $1`, [
    jobId,
    state,
    error ?? null,
  ]);
  await db.query('DELETE FROM elt.resync_delta WHERE job_id = $1', [jobId]);
}

export async function setTableState(
  db: Queryable,
  slot: string,
  t: { schema: string; table: string },
  state: string,
  error: string | null = null,
): Promise<void> {
  await db.query(
    `UPDATE elt.tables SET state = $4, last_error = coalesce($5, last_error), last_error_at = CASE WHEN $5::text IS NOT NULL THEN now() ELSE last_error_at END
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, t.schema, t.table, state, error],
  );
}

/**
 * A table renamed on the source: its queued resync follows the new name (unless that name has one
 * already). Returns whether a resync of the old name is running (its copy is of the old table).
 */
export async function followRenamedTable(
  db: Queryable,
  slot: string,
  schema: string,
  from: string,
  to: string,
): Promise<boolean> {
  await db.query(
    `UPDATE elt.resync_job_tables SET source_table = $4 WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3 AND state = 'queued'
       AND NOT EXISTS (SELECT 1 FROM elt.resync_job_tables WHERE slot_name = $1 AND source_schema = $2 AND source_table = $4 AND state IN ('queued', 'running'))`,
    [slot, schema, from, to],
  );
  const { rows } = await db.query(
    `SELECT 1 FROM elt.resync_job_tables WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3 AND state = 'running'`,
    [slot, schema, from],
  );
  return rows.length > 0;
}
