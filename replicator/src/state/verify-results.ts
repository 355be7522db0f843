/** The last verification of each table, kept in elt.verify_results (one row per table, replaced by each run). */
import type { Queryable } from './replica-columns.js';
import type { TableResult } from '../verify/verify-table.js';

export async function storeResult(
  db: Queryable,
  slot: string,
  result: TableResult,
  repairJobId: number | null,
): Promise<void> {
  await db.query(
    `INSERT INTO elt.verify_results (slot_name, source_schema, source_table, outcome, rows_checked, rows_differing, differences, reason, repair_job_id, started_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (slot_name, source_schema, source_table) DO UPDATE SET
       outcome = EXCLUDED.outcome, rows_checked = EXCLUDED.rows_checked, rows_differing = EXCLUDED.rows_differing,
       differences = EXCLUDED.differences, reason = EXCLUDED.reason, repair_job_id = EXCLUDED.repair_job_id,
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at`,
    [
      slot,
      result.schema,
      result.table,
      result.outcome,
      result.rowsChecked,
      result.rowsDiffering,
      JSON.stringify(result.differences),
      result.reason,
      repairJobId,
      result.startedAt,
      result.finishedAt,
    ],
  );
}

/** Forget a table's last verification (a resync replaced the rows it described). */
export async function clearVerifyResult(db: Queryable, slot: string, schema: string, table: string): Promise<void> {
  await db.query('DELETE FROM elt.verify_results WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3', [
    slot,
    schema,
    table,
  ]);
}
