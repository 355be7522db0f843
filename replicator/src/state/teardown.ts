/**
 * Forgetting a slot in the control schema (`elt teardown`): every row elt keeps for it, in the
 * caller's transaction. The schema itself stays: other slots may use it, and its version with it.
 */
import type { Queryable } from './replica-columns.js';

/** The per-slot tables, children before parents (elt.table_columns goes with elt.tables, a job's tables and held changes with the job). */
const SLOT_TABLES = [
  'elt.prune_jobs',
  'elt.resync_jobs',
  'elt.partition_leaves',
  'elt.tables',
  'elt.replication_state',
];

export async function deleteSlotState(db: Queryable, slot: string): Promise<void> {
  for (const table of SLOT_TABLES) {
    const exists = (await db.query('SELECT to_regclass($1) IS NOT NULL AS ok', [table])).rows[0] as { ok: boolean };
    if (exists.ok) await db.query(`DELETE FROM ${table} WHERE slot_name = $1`, [slot]);
  }
}

/** The other slots with tables in a target schema. */
export async function otherSlotsIn(db: Queryable, targetSchema: string, slot: string): Promise<string[]> {
  const { rows } = await db.query(
    'SELECT DISTINCT slot_name FROM elt.tables WHERE target_schema = $1 AND slot_name <> $2 ORDER BY 1',
    [targetSchema, slot],
  );
  return (rows as { slot_name: string }[]).map((r) => r.slot_name);
}

/** Whether the destination holds elt's control schema (its state tables), and if so how many rows it keeps for the slot. */
export async function slotStateRows(db: Queryable, slot: string): Promise<{ hasControl: boolean; rows: number }> {
  const { rows: control } = await db.query(
    "SELECT to_regclass('elt.replication_state') IS NOT NULL AND to_regclass('elt.tables') IS NOT NULL AS ok",
  );
  if (!(control[0] as { ok: boolean }).ok) return { hasControl: false, rows: 0 };
  const { rows } = await db.query(
    'SELECT (SELECT count(*) FROM elt.replication_state WHERE slot_name = $1) + (SELECT count(*) FROM elt.tables WHERE slot_name = $1) AS n',
    [slot],
  );
  return { hasControl: true, rows: Number((rows[0] as { n: string }).n) };
}
