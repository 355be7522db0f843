/**
 * The publication elt manages (it carries elt's comment, ./publication.ts) follows the table
 * selection: it lists the selected tables only. A table the selection takes is added (by the
 * selection watch, with its copy, ../resync/selection-watch.ts); a table it leaves out is
 * dropped at start. A publication elt does not manage is never altered: the replicator only
 * filters what it sends (../apply/apply-session.ts).
 */
import type { ClientBase } from 'pg';
import { EltError } from '../errors.js';
import type { Logger } from '../log.js';
import { ident, qualified } from '../sql.js';
import type { TableSelection } from './selection.js';

/** Published tables of the schemas (by their root), by whether the publication lists schemas. */
async function publicationShape(
  db: ClientBase,
  publication: string,
): Promise<{ bySchema: string[]; tables: { schema: string; name: string }[] }> {
  const schemas = await db.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid
     JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE p.pubname = $1 ORDER BY 1`,
    [publication],
  );
  const tables = await db.query<{ schema: string; name: string }>(
    'SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2',
    [publication],
  );
  return { bySchema: schemas.rows.map((r) => r.schema), tables: tables.rows };
}

/**
 * Make the managed publication list only selected tables: one that lists whole schemas (made
 * before a selection was set) becomes the list of its selected tables, in one transaction, so
 * that a selected table is published at every moment; the tables the selection leaves out are
 * dropped from it.
 */
export async function narrowPublication(
  lc: Logger,
  db: ClientBase,
  publication: string,
  selection: TableSelection,
): Promise<void> {
  const shape = await publicationShape(db, publication);
  const keep = shape.tables.filter((t) => selection.selects(t.schema, t.name));
  const drop = shape.tables.filter((t) => !selection.selects(t.schema, t.name));
  if (shape.bySchema.length === 0 && drop.length === 0) return;
  const pub = ident(publication);
  const statements: string[] = [];
  if (shape.bySchema.length > 0) {
    statements.push(`ALTER PUBLICATION ${pub} DROP TABLES IN SCHEMA ${shape.bySchema.map(ident).join(', ')}`);
    if (keep.length > 0)
      statements.push(`ALTER PUBLICATION ${pub} ADD TABLE ${keep.map((t) => qualified(t.schema, t.name)).join(', ')}`);
  } else {
    statements.push(`ALTER PUBLICATION ${pub} DROP TABLE ${drop.map((t) => qualified(t.schema, t.name)).join(', ')}`);
  }
  await alter(db, publication, statements);
  lc.info(
    { publication, dropped: drop.map((t) => `${t.schema}.${t.name}`), fromSchemas: shape.bySchema },
    'the publication elt manages now lists only the selected tables',
  );
}

/** Whether the publication sends the table. */
export async function isPublished(
  db: ClientBase,
  publication: string,
  schema: string,
  table: string,
): Promise<boolean> {
  const { rows } = await db.query(
    'SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
    [publication, schema, table],
  );
  return rows.length > 0;
}

/** Add a newly selected table to the managed publication: its changes are sent from this commit on. */
export async function addToPublication(
  db: ClientBase,
  publication: string,
  schema: string,
  table: string,
): Promise<void> {
  await alter(db, publication, [`ALTER PUBLICATION ${ident(publication)} ADD TABLE ${qualified(schema, table)}`]);
}

/**
 * Run the statements as one query string, which PostgreSQL runs as one transaction (no
 * BEGIN on a connection the apply path shares, nothing left open on a failure); a refusal
 * says what a superuser may run instead.
 */
async function alter(db: ClientBase, publication: string, statements: string[]): Promise<void> {
  try {
    await db.query(statements.join('; '));
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    throw new EltError(
      `The source role may not change the publication ${publication} to follow the table selection (it must own the publication and the tables).`,
      `Ask a superuser to run on the source: ${statements.join('; ')};`,
      { cause: error },
    );
  }
}

export interface SourceTable {
  schema: string;
  name: string;
  oid: number;
  /** Logged, with a usable replica identity: a publication may send it. */
  replicable: boolean;
  published: boolean;
}

/** The tables (roots, not partitions) of the schemas, whether they can be published and whether they are. */
export async function readSourceTables(db: ClientBase, schemas: string[], publication: string): Promise<SourceTable[]> {
  const { rows } = await db.query<SourceTable>(
    `SELECT n.nspname AS schema, c.relname AS name, c.oid::int8::float8 AS oid,
       c.relpersistence = 'p' AND NOT (c.relreplident = 'n' OR (c.relreplident = 'd'
         AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))) AS replicable,
       EXISTS (SELECT 1 FROM pg_publication_tables p WHERE p.pubname = $2 AND p.schemaname = n.nspname AND p.tablename = c.relname) AS published
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1, 2`,
    [schemas, publication],
  );
  return rows;
}
