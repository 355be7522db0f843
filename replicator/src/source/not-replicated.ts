/**
 * The tables of the replicated schemas that are not replicated, each with the reason a
 * person can act on: the replica never silently lacks a table. They show as `excluded` in
 * elt.tables, `elt status`, the API and the metrics.
 */
import type { ClientBase } from 'pg';
import type { TableSelection } from './selection.js';

export interface NotReplicatedTable {
  schema: string;
  name: string;
  reason: string;
  /** False when the table selection leaves it out (elt.tables.selected); true unless told. */
  selected?: boolean;
}

/** Tables (not partitions) of `schemas` that the selection leaves out, and which pattern does. */
export async function tablesNotSelected(
  db: ClientBase,
  schemas: string[],
  selection: TableSelection,
): Promise<NotReplicatedTable[]> {
  if (!selection.isSet) return [];
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition ORDER BY 1, 2`,
    [schemas],
  );
  return rows.flatMap((r) => {
    const decision = selection.decide(r.schema, r.name);
    return decision.selected ? [] : [{ schema: r.schema, name: r.name, reason: decision.reason, selected: false }];
  });
}

/**
 * Tables (not partitions) of `schemas` that the publication does not send, and why. With
 * `pendingAdd` (a publication elt manages, with a selection), a selected table that it could
 * publish but does not yet is left out: the selection watch adds it and copies it.
 */
export async function tablesNotReplicated(
  db: ClientBase,
  publication: string,
  schemas: string[],
  pendingAdd = false,
): Promise<NotReplicatedTable[]> {
  const { rows } = await db.query<{
    schema: string;
    name: string;
    kind: string;
    persistence: string;
    identity: string;
    has_pk: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.relpersistence AS persistence, c.relreplident AS identity,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition
       AND NOT EXISTS (SELECT 1 FROM pg_publication_tables p WHERE p.pubname = $2 AND p.schemaname = n.nspname AND p.tablename = c.relname)
     ORDER BY 1, 2`,
    [schemas, publication],
  );
  const unpublished = rows
    // Only missing from the publication, which the selection watch is about to add it to.
    .filter((r) => !(pendingAdd && obstacle(r) === null))
    .map((r) => ({ schema: r.schema, name: r.name, reason: obstacle(r) ?? notInPublication(publication) }));
  return [...unpublished, ...(await partitionedWithHiddenLeaves(db, schemas))];
}

/**
 * Partitioned tables with an UNLOGGED or foreign partition: logical decoding never sees that
 * partition's changes, so the replica of the root would go stale without a word. Excluded whole.
 */
async function partitionedWithHiddenLeaves(db: ClientBase, schemas: string[]): Promise<NotReplicatedTable[]> {
  const { rows } = await db.query<{ schema: string; name: string; leaves: string[] }>(
    `SELECT n.nspname AS schema, c.relname AS name,
       array_agg(format('%I.%I', ln.nspname, l.relname)::text ORDER BY l.relname) AS leaves
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL pg_partition_tree(c.oid) t
     JOIN pg_class l ON l.oid = t.relid JOIN pg_namespace ln ON ln.oid = l.relnamespace
     WHERE n.nspname = ANY($1) AND c.relkind = 'p' AND NOT c.relispartition AND t.isleaf
       AND (l.relpersistence = 'u' OR l.relkind = 'f')
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [schemas],
  );
  return rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    reason: `Not replicated: its partition${r.leaves.length > 1 ? 's' : ''} ${r.leaves.join(', ')} ${r.leaves.length > 1 ? 'are' : 'is'} UNLOGGED or foreign, so logical decoding never sees their changes. Make them logged (ALTER TABLE … SET LOGGED) or detach them, then resync the table.`,
  }));
}

/** Why no publication could send the table, or null when only its absence from the publication keeps it out. */
function obstacle(t: { kind: string; persistence: string; identity: string; has_pk: boolean }): string | null {
  if (t.kind === 'f')
    return 'Not replicated: it is a foreign table (its rows live in another server, and logical decoding never sees them).';
  if (t.persistence === 'u') {
    return 'Not replicated: it is UNLOGGED, so logical decoding never sees its changes. Make it logged (ALTER TABLE … SET LOGGED) and resync it to replicate it.';
  }
  if (t.kind === 'p' && t.identity === 'd' && !t.has_pk) {
    return 'Not replicated: its key is only on its partitions. Add the primary key on the partitioned table itself (or set REPLICA IDENTITY FULL on it), add it to the publication and resync.';
  }
  if (t.identity === 'n' || (t.identity === 'd' && !t.has_pk)) {
    return 'Not replicated: the table has no primary key or replica identity. Set REPLICA IDENTITY FULL on it (or ELT_REPLICA_IDENTITY_FULL=true), add it to the publication and resync.';
  }
  return null;
}

function notInPublication(publication: string): string {
  return `Not replicated: the publication ${publication} does not include it. Add it (ALTER PUBLICATION ${publication} ADD TABLE …) to replicate it.`;
}
