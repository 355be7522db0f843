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
}

/** Queue one job for the tables (those without an active job); returns its id, or null when none was needed. */
export async function enqueueResync(
  db: Queryable,
  slot: string,
  tables: ResyncTarget[],
  requestedBy: string,
): Promise<number | null> {
  if (tables.length === 0) return null;
  const { rows } = await db.query(
    `WITH wanted AS (
       SELECT w.s, w.t, w.k FROM unnest($2::text[], $3::text[], $5::jsonb[]) AS w(s, t, k)
       WHERE NOT EXISTS (SELECT 1 FROM elt.resync_job_tables a
         WHERE a.slot_name = $1 AND a.source_schema = w.s AND a.source_table = w.t AND a.state IN ('queued', 'running'))),
     job AS (
       INSERT INTO elt.resync_jobs (slot_name, requested_by) SELECT $1, $4 WHERE EXISTS (SELECT 1 FROM wanted) RETURNING id)
     INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table, keys)
     SELECT job.id, $1, wanted.s, wanted.t, wanted.k FROM job, wanted RETURNING job_id`,
    [
      slot,
      tables.map((t) => t.schema),
      tables.map((t) => t.table),
      requestedBy,
      tables.map((t) => (t.keys ? JSON.stringify(t.keys) : null)),
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
  const { rows } = await db.query(
    `SELECT job_id::text AS id FROM elt.resync_job_tables
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3 AND state IN ('queued', 'running') LIMIT 1`,
    [slot, schema, table],
  );
  const row = rows[0] as { id: string } | undefined;
  return row ? Number(row.id) : null;
}
