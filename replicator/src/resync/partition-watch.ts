/**
 * At each heartbeat, a partitioned table whose partitions changed in a way the stream does
 * not carry (a TRUNCATE or DETACH of one partition, a table with rows ATTACHed: see
 * ../source/partition-leaves.ts) is resynced online. The leaves last seen are kept in
 * elt.partition_leaves, so a change made while the replicator was down is found too.
 */
import type { ClientBase } from 'pg';
import { compareLeaves, leavesEmpty, readPartitionLeaves } from '../source/partition-leaves.js';
import { readKnownLeaves, recordLeaves } from '../state/partition-leaves.js';
import { requestResync, type SchemaContext } from '../schema/schema-changes.js';

export async function watchPartitions(ctx: SchemaContext & { control: ClientBase }): Promise<void> {
  const tables = await readPartitionLeaves(ctx.source, ctx.sourceSchemas);
  if (tables.length === 0) return;
  const rows = await readKnownLeaves(ctx.control, ctx.slot);
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
    await recordLeaves(ctx.control, ctx.slot, table.schema, table.table, table.leaves);
  }
}
