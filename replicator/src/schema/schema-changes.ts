/**
 * Following the source's DDL while streaming. pgoutput announces a table's new shape in a
 * Relation message before its next change; the replica is brought along inside the apply
 * transaction, before that change is applied. Tables are known by relation OID and columns
 * by attnum (./table-identity.ts, ./follow-columns.ts), never by name or position:
 *
 * - a new table in a replicated schema (or a new OID under a known name): created
 *   (columns, key, metadata columns), then resynced so that rows written before its first
 *   change are there too; a renamed table (same OID) is renamed;
 * - ADD COLUMN: added; a constant default (PostgreSQL's "missing value") fills the existing
 *   rows exactly as on the source; a volatile default, or a rewrite since that lost the
 *   missing value, sends the table to a resync;
 * - DROP COLUMN: dropped (kept, nullable, when a view depends on it);
 * - RENAME COLUMN: renamed by attnum, values kept (any number of renames, swaps included);
 * - ALTER COLUMN TYPE: converted through text where that works (emptied otherwise), then
 *   resynced (the source's own USING expression is not visible to us);
 * - anything the stream and the catalog cannot prove: the table is resynced.
 * What cannot be followed (a type the replica lacks, a statement the replica refuses) stops
 * that table alone with an error in elt.tables; the other tables go on.
 */
import type pg from 'pg';
import type { ClientBase } from 'pg';
import type { StoppedTables } from '../apply/stopped-tables.js';
import { EltError } from '../errors.js';
import { TableFailure } from '../failures.js';
import type { Logger } from '../log.js';
import type { ColumnPolicy } from '../source/column-policy.js';
import type { PgoutputMessage } from '../source/pgoutput.js';
import { ident, qualified } from '../sql.js';
import { METADATA_COLUMN_DDL } from './metadata-columns.js';
import { enqueueResync } from '../state/resync-queue.js';
import type { TargetSchemas } from './target-schemas.js';
import { insertStreamingTable } from '../state/control.js';

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;

export interface SchemaContext {
  lc: Logger;
  /** Runs SQL in the apply transaction, after the changes staged so far are applied. */
  dest: { query(sql: string, params?: unknown[]): Promise<pg.QueryResult> };
  source: ClientBase;
  sourceSchemas: string[];
  /** Where each source schema's tables are replicated (recreated types: the default target). */
  targets: TargetSchemas;
  slot: string;
  /** ELT_EXCLUDE_COLUMNS / ELT_MASK_COLUMNS: the stream's relations already follow it; the catalog reads are made to. */
  columns: ColumnPolicy;
  /** The tables whose changes are skipped (the stream's): a renamed or moved table's stop follows it. */
  stopped?: StoppedTables;
}

export interface DestColumn {
  name: string;
  type: string;
}

/**
 * The replica's type for a source column type: built-ins as they are; an extension's type
 * under its own schema (it must exist there in the destination); a user's type moved to the
 * target schema (./replica-ddl.ts creates it there).
 */
export async function replicaType(ctx: SchemaContext, typeOid: number, typeMod: number): Promise<string> {
  const { rows } = await ctx.source.query<{
    builtin: string;
    schema: string;
    name: string;
    is_array: boolean;
    extension: boolean;
  }>(
    `SELECT format_type(t.oid, $2) AS builtin, n.nspname AS schema, b.typname AS name, e.oid IS NOT NULL AS is_array,
       EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = b.oid AND d.deptype = 'e') AS extension
     FROM pg_type t
     LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
     JOIN pg_type b ON b.oid = coalesce(e.oid, t.oid)
     JOIN pg_namespace n ON n.oid = b.typnamespace
     WHERE t.oid = $1`,
    [typeOid, typeMod],
  );
  const row = rows[0];
  if (!row) throw new EltError(`The source type ${typeOid} is unknown.`, 'Resync the table.');
  if (row.schema === 'pg_catalog' || row.schema === 'information_schema') return row.builtin;
  const schema = row.extension ? row.schema : ctx.targets.defaultSchema;
  return `${qualified(schema, row.name)}${row.is_array ? '[]' : ''}`;
}

/**
 * Do two type names (as format_type prints them) denote the same type in the replica?
 * to_regtype ignores a type modifier, so numeric(8,2) and numeric(12,4) also compare their
 * modifiers, as printed.
 */
export async function sameType(ctx: SchemaContext, a: string, b: string | null): Promise<boolean> {
  if (a === b) return true;
  if (b === null || typeModifier(a) !== typeModifier(b)) return false;
  const { rows } = await ctx.dest.query('SELECT to_regtype($1) IS NOT DISTINCT FROM to_regtype($2) AS same', [a, b]);
  return rows[0]?.same === true;
}

function typeModifier(type: string): string {
  return /\([^)]*\)/.exec(type)?.[0] ?? '';
}

async function typeExists(ctx: SchemaContext, type: string): Promise<boolean> {
  const { rows } = await ctx.dest.query('SELECT to_regtype($1) IS NOT NULL AS ok', [type]);
  return rows[0]?.ok === true;
}

/** Queue a resync of the table (unless one is already queued or running), in the apply transaction. */
export async function requestResync(ctx: SchemaContext, schema: string, table: string, reason: string): Promise<void> {
  await enqueueResync(ctx.dest, ctx.slot, [{ schema, table }], `elt: ${reason}`);
  ctx.lc.warn({ table: `${schema}.${table}`, reason }, 'the table will be resynced to follow a source change');
}

/** Create the replica of a table that appeared on the source after the snapshot, as the relation describes it, and its elt.tables row. */
export async function createReplicaTable(ctx: SchemaContext, relation: RelationMessage): Promise<void> {
  const columns: string[] = [];
  for (const column of relation.columns) {
    const type = await replicaType(ctx, column.typeOid, column.typeMod);
    if (!(await typeExists(ctx, type))) {
      throw new TableFailure(
        relation.schema,
        relation.name,
        `The new source table ${relation.schema}.${relation.name} uses the type ${type}, which the replica lacks.`,
        'Run a full resync (elt teardown --drop-target, then elt replicate).',
      );
    }
    columns.push(`${ident(column.name)} ${type}`);
  }
  const keys = relation.columns.filter((c) => c.isKey).map((c) => ident(c.name));
  const key = keys.length > 0 && relation.replicaIdentity !== 'f' ? `, PRIMARY KEY (${keys.join(', ')})` : '';
  const targetSchema = ctx.targets.of(relation.schema);
  const target = qualified(targetSchema, relation.name);
  await ctx.dest.query(`CREATE TABLE ${target} (${columns.join(', ')}, ${METADATA_COLUMN_DDL}${key})`);
  await insertStreamingTable(ctx.dest, ctx.slot, relation.schema, relation.name, targetSchema);
  ctx.lc.info(
    { table: `${relation.schema}.${relation.name}`, oid: relation.relationId },
    'a new source table: created its replica',
  );
}
