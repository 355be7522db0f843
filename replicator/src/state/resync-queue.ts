/**
 * Resync requests the replicator makes of itself (a table it must copy again online): one
 * job for the tables, skipping those that already have a queued or running job, and a
 * NOTIFY so the resync runner wakes. Runs in the caller's transaction.
 */
import { RESYNC_CHANNEL } from './control.js';
import type { Queryable } from './replica-columns.js';
import type { RepairKeys } from './resync-jobs.js';

export interface ResyncTarget {
  schema: string;
  table: string;
  /** Copy only these keys again (a repair); the whole table when absent. */
  keys?: RepairKeys | undefined;
  /** The rows the copy is expected to take (elt.tables' estimate), shown as the job's progress. */
  rowsEstimated?: string | null | undefined;
}

/**
 * Queue one job for the tables; returns its id, or null when none was needed. Tables that already
 * have a queued or running job are skipped; with `refuseActive` they are not, and the unique index
 * on active job tables (resync_job_tables_one_active) refuses the whole job instead (the API's
 * request is all or nothing).
 */
export async function enqueueResync(
  db: Queryable,
  slot: string,
  tables: ResyncTarget[],
  requestedBy: string,
  { refuseActive = false }: { refuseActive?: boolean } = {},
): Promise<number | null> {
  if (tables.length === 0) return null;
  const { rows } = await db.query(
    `WITH wanted AS (
       SELECT w.s, w.t, w.k, w.e FROM unnest($2::text[], $3::text[], $5::jsonb[], $6::bigint[]) AS w(s, t, k, e)
       WHERE $7 OR NOT EXISTS (SELECT 1 FROM elt.resync_job_tables a
         WHERE a.slot_name = $1 AND a.source_schema = w.s AND a.source_table = w.t AND a.state IN ('queued', 'running'))),
     job AS (
       INSERT INTO elt.resync_jobs (slot_name, requested_by) SELECT $1, $4 WHERE EXISTS (SELECT 1 FROM wanted) RETURNING id)
     INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table, keys, rows_estimated)
     SELECT job.id, $1, wanted.s, wanted.t, wanted.k, wanted.e FROM job, wanted RETURNING job_id`,
    [
      slot,
      tables.map((t) => t.schema),
      tables.map((t) => t.table),
      requestedBy,
      tables.map((t) => (t.keys ? JSON.stringify(t.keys) : null)),
      tables.map((t) => t.rowsEstimated ?? null),
      refuseActive,
    ],
  );
  const jobId = (rows[0] as { job_id: string } | undefined)?.job_id;
  if (jobId === undefined) return null;
  await db.query('SELECT pg_notify($1, $2)', [RESYNC_CHANNEL, String(jobId)]);
  return Number(jobId);
}

/**
 * A table the selection takes that elt does not replicate yet (or a new one under the name of a
 * table that is gone from the source): its row says `resyncing` (its
 * changes wait for the copy, also across a restart), what a kept replica held is forgotten (the
 * copy records what it holds), and its copy is queued. One statement, so that a row never
 * waits for a job that was not queued, and no transaction is held on a connection others share.
 */
export async function queueSelectedTable(
  db: Queryable,
  slot: string,
  table: { schema: string; table: string },
  targetSchema: string,
): Promise<number> {
  const { rows } = await db.query(
    `WITH t AS (
       INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state, selected)
       VALUES ($1, $2, $3, $4, $3, 'resyncing', true)
       ON CONFLICT (slot_name, source_schema, source_table) DO UPDATE SET target_schema = $4, target_table = $3,
         state = 'resyncing', selected = true, last_error = NULL, last_error_at = NULL,
         source_oid = NULL, source_storage = NULL, source_natts = NULL, source_gone_at = NULL
       RETURNING 1),
     columns AS (DELETE FROM elt.table_columns WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3),
     job AS (INSERT INTO elt.resync_jobs (slot_name, requested_by) SELECT $1, 'elt: newly selected' FROM t RETURNING id),
     job_table AS (INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table) SELECT id, $1, $2, $3 FROM job)
     SELECT id, pg_notify($5, id::text) FROM job`,
    [slot, table.schema, table.table, targetSchema, RESYNC_CHANNEL],
  );
  return Number((rows[0] as { id: string }).id);
}

/** The queued or running job of a table, if it has one. */
export async function activeJobOf(db: Queryable, slot: string, schema: string, table: string): Promise<number | null> {
  const [active] = await activeJobsOf(db, slot, [{ schema, table }]);
  return active ? Number(active.jobId) : null;
}

/** A table elt.tables records for the slot, as a resync request names it. */
export interface ResyncCandidate {
  /** schema.table */
  name: string;
  schema: string;
  table: string;
  state: string;
  rowsEstimated: string | null;
}

/** The slot's recorded tables with these names (schema.table), or all of them when `names` is null. */
export async function readResyncCandidates(
  db: Queryable,
  slot: string,
  names: string[] | null,
): Promise<ResyncCandidate[]> {
  const { rows } = await db.query(
    `SELECT source_schema || '.' || source_table AS name, source_schema AS schema, source_table AS table, state,
       rows_estimated::text AS "rowsEstimated"
     FROM elt.tables WHERE slot_name = $1 AND ($2::text[] IS NULL OR source_schema || '.' || source_table = ANY ($2::text[]))
     ORDER BY source_schema, source_table`,
    [slot, names],
  );
  return rows as ResyncCandidate[];
}

/** The queued or running jobs of these tables (schema.table and the job's id), by name. */
export async function activeJobsOf(
  db: Queryable,
  slot: string,
  tables: { schema: string; table: string }[],
): Promise<{ name: string; jobId: string }[]> {
  const { rows } = await db.query(
    `SELECT a.source_schema || '.' || a.source_table AS name, a.job_id::text AS "jobId"
     FROM elt.resync_job_tables a JOIN unnest($2::text[], $3::text[]) AS w(s, t) ON a.source_schema = w.s AND a.source_table = w.t
     WHERE a.slot_name = $1 AND a.state IN ('queued', 'running') ORDER BY 1`,
    [slot, tables.map((t) => t.schema), tables.map((t) => t.table)],
  );
  return rows as { name: string; jobId: string }[];
}

/**
 * Ask for a job's cancellation, in the caller's transaction: a queued job (and its tables) ends
 * `cancelled` at once; a running one gets `cancel_requested` and the replicator stops it (the
 * NOTIFY is its prompt). A job already ended is left as it is. Returns the job's state before,
 * or null when the slot has no such job.
 */
export async function requestJobCancel(db: Queryable, slot: string, id: string): Promise<string | null> {
  const { rows } = await db.query(
    'SELECT state FROM elt.resync_jobs WHERE id = $1::bigint AND slot_name = $2 FOR UPDATE',
    [id, slot],
  );
  const state = (rows[0] as { state: string } | undefined)?.state;
  if (state === undefined) return null;
  if (state === 'queued') {
    await db.query(
      "UPDATE elt.resync_jobs SET state = 'cancelled', cancel_requested = true, finished_at = now() WHERE id = $1::bigint",
      [id],
    );
    await db.query(
      "UPDATE elt.resync_job_tables SET state = 'cancelled', finished_at = now() WHERE job_id = $1::bigint AND state IN ('queued', 'running')",
      [id],
    );
  } else if (state === 'running') {
    await db.query('UPDATE elt.resync_jobs SET cancel_requested = true WHERE id = $1::bigint', [id]);
  } else {
    return state;
  }
  // The replicator re-reads the job on any notification; for a running job this is the prompt to stop.
  await db.query('SELECT pg_notify($1, $2)', [RESYNC_CHANNEL, id]);
  return state;
}
