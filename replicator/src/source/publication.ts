/**
 * The publication that names what we replicate, and the published tables as the
 * replicator sees them: partitioned tables by their root (publish_via_partition_root),
 * each with its replica identity, its partitions and a row estimate.
 */
import type { ClientBase } from 'pg';
import type { Logger } from '../log.js';
import { EltError } from '../errors.js';
import { ident } from '../sql.js';

export interface PublishedTable {
  oid: number;
  schema: string;
  name: string;
  /** r = table, p = partitioned table (its partitions are replicated as this root) */
  kind: 'r' | 'p';
  /** d = primary key, i = an index, f = full row, n = nothing */
  replicaIdentity: 'd' | 'i' | 'f' | 'n';
  /** The unique index that identifies a row (primary key or REPLICA IDENTITY USING INDEX), if any. */
  identityIndex: string | null;
  /** Qualified names of every partition below a partitioned root. */
  partitions: string[];
  rowsEstimated: number;
}

export function createPublicationSql(publication: string, schemas: string[]): string {
  return `CREATE PUBLICATION ${ident(publication)} FOR TABLES IN SCHEMA ${schemas.map(ident).join(', ')} WITH (publish_via_partition_root = true)`;
}

export async function ensurePublication(lc: Logger, db: ClientBase, publication: string, schemas: string[]): Promise<void> {
  const { rows } = await db.query<{ pubviaroot: boolean }>('SELECT pubviaroot FROM pg_publication WHERE pubname = $1', [publication]);
  if (rows[0]) {
    if (!rows[0].pubviaroot) {
      lc.warn({ publication }, 'publication does not publish via partition root: changes to partitions arrive under each partition name');
    }
    return;
  }
  const sql = createPublicationSql(publication, schemas);
  try {
    await db.query(sql);
    lc.info({ publication, schemas }, 'created publication');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '42501') {
      throw new EltError(
        `The source role may not create the publication ${publication}.`,
        `Ask a superuser to run on the source: ${sql};`,
        { cause: error },
      );
    }
    throw error;
  }
}

export async function dropPublication(db: ClientBase, publication: string): Promise<void> {
  await db.query(`DROP PUBLICATION IF EXISTS ${ident(publication)}`);
}

export async function listPublishedTables(db: ClientBase, publication: string): Promise<PublishedTable[]> {
  const { rows } = await db.query<{
    oid: number;
    schema: string;
    name: string;
    kind: 'r' | 'p';
    replica_identity: 'd' | 'i' | 'f' | 'n';
    identity_index: string | null;
    partitions: string[];
    rows_estimated: string;
  }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       c.relreplident AS replica_identity,
       (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         WHERE x.indrelid = c.oid AND ((c.relreplident = 'd' AND x.indisprimary) OR (c.relreplident = 'i' AND x.indisreplident))) AS identity_index,
       coalesce((SELECT array_agg(format('%I.%I', pn.nspname, pc.relname) ORDER BY pc.relname)
         FROM pg_partition_tree(c.oid) t JOIN pg_class pc ON pc.oid = t.relid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE t.relid <> c.oid), '{}') AS partitions,
       (CASE WHEN c.relkind = 'p'
          THEN (SELECT coalesce(sum(greatest(pc.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) t JOIN pg_class pc ON pc.oid = t.relid WHERE t.isleaf)
          ELSE greatest(c.reltuples, 0) END)::bigint AS rows_estimated
     FROM pg_publication_tables p
     JOIN pg_namespace n ON n.nspname = p.schemaname
     JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
     WHERE p.pubname = $1
     ORDER BY rows_estimated DESC, n.nspname, c.relname`,
    [publication],
  );
  return rows.map((r) => ({
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    kind: r.kind,
    replicaIdentity: r.replica_identity,
    identityIndex: r.identity_index,
    partitions: r.partitions,
    rowsEstimated: Number(r.rows_estimated),
  }));
}
