/**
 * elt.partition_leaves: the leaves of each partitioned table as the replicator last saw them,
 * so a change the stream does not carry is found, also one made while it was down.
 */
import type { ClientBase } from 'pg';
import type { Leaf } from '../source/partition-leaves.js';

export interface KnownTable {
  schema: string;
  table: string;
  state: string;
  /** The leaves last seen, or null when never recorded. */
  leaves: Leaf[] | null;
}

/** Every table of the slot with its state and the leaves last seen. */
export async function readKnownLeaves(db: ClientBase, slot: string): Promise<KnownTable[]> {
  const { rows } = await db.query<KnownTable>(
    `SELECT t.source_schema AS schema, t.source_table AS table, t.state, p.leaves
     FROM elt.tables t LEFT JOIN elt.partition_leaves p USING (slot_name, source_schema, source_table)
     WHERE t.slot_name = $1`,
    [slot],
  );
  return rows;
}

export async function recordLeaves(
  db: ClientBase,
  slot: string,
  schema: string,
  table: string,
  leaves: Leaf[],
): Promise<void> {
  await db.query(
    `INSERT INTO elt.partition_leaves (slot_name, source_schema, source_table, leaves) VALUES ($1, $2, $3, $4)
     ON CONFLICT (slot_name, source_schema, source_table) DO UPDATE SET leaves = EXCLUDED.leaves, seen_at = now()`,
    [slot, schema, table, JSON.stringify(leaves)],
  );
}
