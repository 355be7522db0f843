/**
 * Each table's column policy as its replica holds it (elt.tables.column_policy and
 * mask_key_fingerprint, migration 7): written when a copy becomes the replica (the snapshot, a
 * resync's swap), read at start to tell a changed policy (../resync/policy-watch.ts).
 */
import type { TablePolicy } from '../source/column-policy.js';
import type { Queryable } from './replica-columns.js';

export interface TablePolicyRow extends TablePolicy {
  schema: string;
  table: string;
  state: string;
}

/** Record the policy the table's replica now follows. The table's row in elt.tables must exist. */
export async function recordColumnPolicy(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
  policy: TablePolicy,
): Promise<void> {
  await db.query(
    `UPDATE elt.tables SET column_policy = $4::jsonb, mask_key_fingerprint = $5
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table, JSON.stringify(policy.entries), policy.keyFingerprint],
  );
}

/** The recorded policy of every table of the slot. */
export async function readColumnPolicies(db: Queryable, slot: string): Promise<TablePolicyRow[]> {
  const { rows } = await db.query(
    `SELECT source_schema AS schema, source_table AS "table", state, column_policy AS entries,
       mask_key_fingerprint AS "keyFingerprint"
     FROM elt.tables WHERE slot_name = $1 ORDER BY 1, 2`,
    [slot],
  );
  return rows as TablePolicyRow[];
}

/** The recorded policy of one table, or null when it has no row. */
export async function readColumnPolicy(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
): Promise<TablePolicy | null> {
  const { rows } = await db.query(
    `SELECT column_policy AS entries, mask_key_fingerprint AS "keyFingerprint" FROM elt.tables
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table],
  );
  return (rows[0] as TablePolicy | undefined) ?? null;
}
