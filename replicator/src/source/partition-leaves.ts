/**
 * What the stream never says about partitions. With publish_via_partition_root, PostgreSQL
 * sends no TRUNCATE of one partition, nothing for a DETACH, and no rows of a table ATTACHed
 * as a partition. The catalog shows all three: a TRUNCATE gives the partition a new
 * relfilenode, and DETACH or ATTACH change the set of leaves. The leaves of each
 * partitioned table (OID and relfilenode) are compared with the ones seen last; a change
 * other than new empty leaves means the replica may no longer equal the source.
 */
import type { ClientBase } from 'pg';

export interface Leaf {
  oid: number;
  filenode: string;
}

export interface PartitionedTable {
  schema: string;
  table: string;
  leaves: Leaf[];
}

/** The leaves of every partitioned table (roots only) in the given schemas. */
export async function readPartitionLeaves(source: ClientBase, schemas: string[]): Promise<PartitionedTable[]> {
  const { rows } = await source.query<{ schema: string; table: string; leaves: Leaf[] }>(
    `SELECT n.nspname AS schema, c.relname AS table,
            coalesce(json_agg(json_build_object('oid', l.relid::oid::bigint, 'filenode', pg_relation_filenode(l.relid)::text) ORDER BY l.relid::oid)
                     FILTER (WHERE l.isleaf), '[]') AS leaves
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL pg_partition_tree(c.oid) l
     WHERE c.relkind = 'p' AND NOT c.relispartition AND n.nspname = ANY($1)
     GROUP BY n.nspname, c.relname`,
    [schemas],
  );
  return rows;
}

export type LeafChange = { kind: 'none' } | { kind: 'added'; oids: number[] } | { kind: 'changed'; why: string };

/** How the leaves changed: not at all, only new leaves (maybe empty), or in a way the stream did not carry. */
export function compareLeaves(before: Leaf[], after: Leaf[]): LeafChange {
  const now = new Map(after.map((l) => [l.oid, l.filenode]));
  const was = new Map(before.map((l) => [l.oid, l.filenode]));
  const gone = before.filter((l) => !now.has(l.oid));
  if (gone.length > 0)
    return { kind: 'changed', why: `partition ${gone.map((l) => l.oid).join(', ')} detached or dropped` };
  const rewritten = before.filter((l) => now.get(l.oid) !== l.filenode);
  if (rewritten.length > 0)
    return { kind: 'changed', why: `partition ${rewritten.map((l) => l.oid).join(', ')} truncated or rewritten` };
  const added = after.filter((l) => !was.has(l.oid)).map((l) => l.oid);
  return added.length > 0 ? { kind: 'added', oids: added } : { kind: 'none' };
}

/** Do these partitions hold no rows? (A partition created empty needs no resync; an attached table with rows does.) */
export async function leavesEmpty(source: ClientBase, oids: number[]): Promise<boolean> {
  for (const oid of oids) {
    const { rows } = await source.query<{ name: string | null }>('SELECT $1::oid::regclass::text AS name', [oid]);
    if (!rows[0]?.name) return false;
    // regclass prints the name quoted and qualified as needed: catalog output, not user input.
    const { rows: any } = await source.query(`SELECT 1 FROM ONLY ${rows[0].name} LIMIT 1`);
    if (any.length > 0) return false;
  }
  return true;
}
