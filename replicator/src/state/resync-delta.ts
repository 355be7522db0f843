/**
 * elt.resync_delta: the changes of a table being resynced, held aside by the apply loop for
 * the resync to replay onto its copy. Statements run in the caller's transaction.
 */
import type { Queryable } from './replica-columns.js';

export interface DeltaRow {
  jobId: number;
  schema: string;
  table: string;
  /** The change as JSON (see apply/apply-hooks.ts encodeDelta). */
  change: string;
}

export async function insertDelta(db: Queryable, rows: DeltaRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO elt.resync_delta (job_id, source_schema, source_table, change)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])`,
    [rows.map((r) => r.jobId), rows.map((r) => r.schema), rows.map((r) => r.table), rows.map((r) => r.change)],
  );
}

/** Up to `limit` changes held for the job after `after` (by seq), in order. */
export async function readDelta(
  db: Queryable,
  jobId: number,
  after: number,
  limit: number,
): Promise<{ seq: string; change: unknown }[]> {
  const { rows } = await db.query(
    'SELECT seq, change FROM elt.resync_delta WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
    [jobId, after, limit],
  );
  return rows as { seq: string; change: unknown }[];
}

/** The job's held changes are replayed (or no longer wanted). */
export async function deleteDelta(db: Queryable, jobId: number): Promise<void> {
  await db.query('DELETE FROM elt.resync_delta WHERE job_id = $1', [jobId]);
}
