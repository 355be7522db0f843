/**
 * Estimate a source table's rows and bytes before it is copied: summed over the leaves of a
 * partitioned table (pg_partition_tree), from the catalog where it knows (./estimate.ts),
 * by a count where it does not. Bytes are the relations' size on disk (with TOAST).
 */
import type { ClientBase } from 'pg';
import { qualified } from '../sql.js';
import { countPlan, rowsFromCount, rowsFromStatistics, type LeafStatistics } from './estimate.js';

export interface TableEstimate {
  rows: number;
  bytes: number;
}

export async function estimateTable(db: ClientBase, schema: string, table: string): Promise<TableEstimate> {
  const name = qualified(schema, table);
  // The leaves of a partitioned table, or the plain table itself (pg_partition_tree lists no
  // plain table that is not a partition; nor its inheritance children, which are not copied).
  const { rows: leaves } = await db.query<LeafStatistics & { bytes: string; partitioned: boolean }>(
    `WITH root AS (SELECT to_regclass($1) AS oid),
       leaves AS (SELECT p.relid AS oid FROM root, pg_partition_tree(root.oid) p WHERE p.isleaf UNION SELECT oid FROM root)
     SELECT c.reltuples::float8 AS reltuples, c.relpages::int AS relpages,
       (pg_relation_size(c.oid) / current_setting('block_size')::int)::int AS pages, pg_table_size(c.oid)::text AS bytes,
       c.oid <> root.oid AS partitioned
     FROM root, leaves l JOIN pg_class c ON c.oid = l.oid
     WHERE c.relkind = 'r'`,
    [name],
  );
  const bytes = leaves.reduce((sum, leaf) => sum + Number(leaf.bytes), 0);
  const pages = leaves.reduce((sum, leaf) => sum + leaf.pages, 0);
  const from = `${leaves.some((leaf) => leaf.partitioned) ? '' : 'ONLY '}${name}`;
  const rows = rowsFromStatistics(leaves) ?? (await countRows(db, from, pages));
  return { rows, bytes };
}

/** Count a table without statistics: all of it when small, a sample of its pages when big. */
async function countRows(db: ClientBase, from: string, pages: number): Promise<number> {
  const plan = countPlan(pages);
  const sample = plan.kind === 'sample' ? ` TABLESAMPLE SYSTEM (${plan.percent})` : '';
  const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${from}${sample}`);
  return rowsFromCount(Number(rows[0]!.n), plan);
}
