/**
 * The publication that names what we replicate, and the published tables as the
 * replicator sees them: partitioned tables by their root (publish_via_partition_root),
 * each with its replica identity, its partitions and a row estimate.
 */
import type { ClientBase } from 'pg';
import type { Logger } from '../log.js';
import { EltError } from '../errors.js';
import { ident, literal, qualified } from '../sql.js';
import type { TableSelection } from './selection.js';

/**
 * The comment elt puts on a publication it creates: such a publication is elt's to change
 * (./selection-publication.ts adds and drops tables to follow the selection). A publication
 * without it (made by a user, or by an elt before selections existed) is never altered.
 */
export const MANAGED_COMMENT =
  'managed by elt: elt adds and drops its tables to follow ELT_INCLUDE_TABLES and ELT_EXCLUDE_TABLES';

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
}

export function createPublicationSql(publication: string, schemas: string[]): string {
  return `CREATE PUBLICATION ${ident(publication)} FOR TABLES IN SCHEMA ${schemas.map(ident).join(', ')} WITH (publish_via_partition_root = true)`;
}

/** A table that a publication of UPDATE and DELETE would break: the source rejects both on it. */
export interface TableWithoutIdentity {
  schema: string;
  name: string;
}

/**
 * Tables of the schemas (not partitions) with no usable replica identity: no primary key
 * under REPLICA IDENTITY DEFAULT, or REPLICA IDENTITY NOTHING.
 */
export async function tablesWithoutIdentity(db: ClientBase, schemas: string[]): Promise<TableWithoutIdentity[]> {
  const { rows } = await db.query<TableWithoutIdentity>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
     ORDER BY 1, 2`,
    [schemas],
  );
  return rows;
}

export interface PublicationOutcome {
  /** Tables left out of the publication we created, because they have no replica identity. */
  excluded: TableWithoutIdentity[];
  /** The publication carries elt's comment: elt may add and drop its tables. */
  managed: boolean;
}

/** Whether the publication carries elt's comment (see MANAGED_COMMENT). */
export async function isManagedPublication(db: ClientBase, publication: string): Promise<boolean> {
  const { rows } = await db.query<{ comment: string | null }>(
    "SELECT obj_description(oid, 'pg_publication') AS comment FROM pg_publication WHERE pubname = $1",
    [publication],
  );
  return rows[0]?.comment === MANAGED_COMMENT;
}

/**
 * Create the publication if it is absent. Before publishing, tables without a replica
 * identity are found: publishing them would make the source reject UPDATE and DELETE on
 * them. With `setReplicaIdentityFull` we set REPLICA IDENTITY FULL on them (the role must own
 * them); otherwise, or where that is refused, they are left out of the publication (which
 * then lists its tables instead of whole schemas) and reported.
 */
export async function ensurePublication(
  lc: Logger,
  db: ClientBase,
  publication: string,
  schemas: string[],
  options: { setReplicaIdentityFull: boolean; selection?: TableSelection } = { setReplicaIdentityFull: false },
): Promise<PublicationOutcome> {
  const { rows } = await db.query<{ pubviaroot: boolean }>('SELECT pubviaroot FROM pg_publication WHERE pubname = $1', [
    publication,
  ]);
  if (rows[0]) {
    if (!rows[0].pubviaroot) {
      lc.warn(
        { publication },
        'publication does not publish via partition root: changes to partitions arrive under each partition name',
      );
    }
    return { excluded: [], managed: await isManagedPublication(db, publication) };
  }
  const excluded: TableWithoutIdentity[] = [];
  for (const table of await tablesWithoutIdentity(db, schemas)) {
    const label = `${table.schema}.${table.name}`;
    if (options.setReplicaIdentityFull) {
      try {
        await db.query(`ALTER TABLE ${qualified(table.schema, table.name)} REPLICA IDENTITY FULL`);
        lc.warn(
          { table: label },
          'set REPLICA IDENTITY FULL on a table without a primary key, so that it can be published',
        );
        continue;
      } catch (error) {
        lc.warn({ table: label, err: error }, 'could not set REPLICA IDENTITY FULL (the role must own the table)');
      }
    }
    excluded.push(table);
    lc.warn(
      { table: label },
      'table left out of the publication: it has no primary key or replica identity, and publishing it would make the source reject UPDATE and DELETE on it; set REPLICA IDENTITY FULL on it (or ELT_REPLICA_IDENTITY_FULL=true) and resync',
    );
  }
  const selection = options.selection?.isSet ? options.selection : null;
  const create =
    excluded.length === 0 && !selection
      ? createPublicationSql(publication, schemas)
      : await tableListPublicationSql(db, publication, schemas, excluded, selection);
  // Created and marked in one transaction (one query string): a publication elt made is always known as elt's.
  const sql = `${create}; COMMENT ON PUBLICATION ${ident(publication)} IS ${literal(MANAGED_COMMENT)}`;
  try {
    await db.query(sql);
    lc.info({ publication, schemas, excluded: excluded.length, selection: selection !== null }, 'created publication');
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
  return { excluded, managed: true };
}

/** A publication of the tables of the schemas but those excluded and, with a selection, those it leaves out. */
async function tableListPublicationSql(
  db: ClientBase,
  publication: string,
  schemas: string[],
  excluded: TableWithoutIdentity[],
  selection: TableSelection | null,
): Promise<string> {
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND NOT c.relispartition ORDER BY 1, 2`,
    [schemas],
  );
  const skip = new Set(excluded.map((t) => `${t.schema}.${t.name}`));
  const tables = rows
    .filter((t) => !skip.has(`${t.schema}.${t.name}`) && (selection?.selects(t.schema, t.name) ?? true))
    .map((t) => qualified(t.schema, t.name));
  return `CREATE PUBLICATION ${ident(publication)} ${tables.length > 0 ? `FOR TABLE ${tables.join(', ')}` : ''} WITH (publish_via_partition_root = true)`;
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
  }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       c.relreplident AS replica_identity,
       (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         WHERE x.indrelid = c.oid AND ((c.relreplident = 'd' AND x.indisprimary) OR (c.relreplident = 'i' AND x.indisreplident))) AS identity_index,
       coalesce((SELECT array_agg(format('%I.%I', pn.nspname, pc.relname) ORDER BY pc.relname)
         FROM pg_partition_tree(c.oid) t JOIN pg_class pc ON pc.oid = t.relid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE t.relid <> c.oid), '{}') AS partitions
     FROM pg_publication_tables p
     JOIN pg_namespace n ON n.nspname = p.schemaname
     JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
     WHERE p.pubname = $1
     ORDER BY n.nspname, c.relname`,
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
  }));
}
