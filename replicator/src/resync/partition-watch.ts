/**
 * At each heartbeat, a partitioned table whose partitions changed in a way the stream does
 * not carry (a TRUNCATE or DETACH of one partition, a table with rows ATTACHed: see
 * ../source/partition-leaves.ts) is resynced online. The leaves last seen are kept in
 * elt.partition_leaves, so a change made while the replicator was down is found too.
 */
import type { ClientBase } from 'pg';
import { compareLeaves, leavesEmpty, readPartitionLeaves, type Leaf } from '../source/partition-leaves.js';
import { requestResync, type SchemaContext } from '../schema/schema-changes.js';

export async function watchPartitions(ctx: SchemaContext & { control: ClientBase }): Promise<void> {
  const tables = await readPartitionLeaves(ctx.source, ctx.sourceSchemas);
  if (tables.length === 0) return;
  const { rows } = await ctx.control.query<{ schema: string; table: string; state: string; leaves: Leaf[] | null }>(
    `SELECT t.source_schema AS schema, t.source_table AS table, t.state, p.leaves
     FROM elt.tables t LEFT JOIN elt.partition_leaves p USING (slot_name, source_schema, source_table)
     WHERE t.slot_name = $1`,
    [ctx.slot],
  );
  const known = new Map(rows.map((r) => [JSON.stringify([r.schema, r.table]), r]));
  for (const table of tables) {
    const seen = known.get(JSON.stringify([table.schema, table.table]));
    // Only tables that stream: a snapshot or a resync in progress reads the partitions anew.
    if (seen?.state !== 'streaming') continue;
    if (seen.leaves) {
      const change = compareLeaves(seen.leaves, table.leaves);
      if (change.kind === 'none') continue;
      if (change.kind === 'changed')
        await requestResync({ ...ctx, dest: ctx.control }, table.schema, table.table, change.why);
      else if (!(await leavesEmpty(ctx.source, change.oids)))
        await requestResync(
          { ...ctx, dest: ctx.control },
          table.schema,
          table.table,
          'a partition with rows was attached',
        );
    }
    await ctx.control.query(
      `INSERT INTO elt.partition_leaves (slot_name, source_schema, source_table, leaves) VALUES ($1, $2, $3, $4)
       ON CONFLICT (slot_name, source_schema, source_table) DO UPDATE SET leaves = EXCLUDED.leaves, seen_at = now()`,
      [ctx.slot, table.schema, table.table, JSON.stringify(table.leaves)],
    );
  }
}
