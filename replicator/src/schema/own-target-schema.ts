/**
 * A target schema is elt's own: a full snapshot drops and creates it. Before it does, the
 * schema must hold nothing elt did not make. Every table elt makes there is a replica, with
 * elt's metadata columns; a table without them, a view, a materialized view, a sequence or a
 * foreign table is someone else's (an existing schema named in ELT_TARGET_SCHEMA_MAP, a dbt
 * schema), and elt stops (exit 2) naming them instead of dropping them.
 */
import type pg from 'pg';
import { ConfigError } from '../errors.js';
import { METADATA_COLUMNS } from './metadata-columns.js';

/** Relations in `schema` that are not elt replicas, as `schema.name (kind)`. */
export async function foreignRelations(db: pg.ClientBase, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string; kind: string }>(
    `SELECT c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND NOT (c.relkind IN ('r', 'p') AND (SELECT count(*) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attname = ANY($2::text[]) AND NOT a.attisdropped) = cardinality($2::text[]))
     ORDER BY 1`,
    [schema, METADATA_COLUMNS],
  );
  const kinds: Record<string, string> = {
    r: 'table',
    p: 'table',
    v: 'view',
    m: 'materialized view',
    S: 'sequence',
    f: 'foreign table',
  };
  return rows.map((r) => `${schema}.${r.name} (${kinds[r.kind] ?? r.kind})`);
}

/** Refuse to drop a target schema that holds what elt did not make. */
export async function checkOwnTargetSchema(db: pg.ClientBase, schema: string): Promise<void> {
  const others = await foreignRelations(db, schema);
  if (others.length === 0) return;
  const shown = others.slice(0, 5).join(', ') + (others.length > 5 ? ` and ${others.length - 5} more` : '');
  throw new ConfigError(
    `The target schema ${schema} holds what elt did not make: ${shown}. A snapshot drops and creates its target schemas, so elt stops rather than drop them.`,
    'Name a schema of its own in ELT_TARGET_SCHEMA / ELT_TARGET_SCHEMA_MAP, or move those objects elsewhere.',
  );
}
