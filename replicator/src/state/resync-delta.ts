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
