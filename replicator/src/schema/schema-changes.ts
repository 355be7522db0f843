/**
 * Following the source's DDL while streaming. pgoutput announces a table's new shape in a
 * Relation message before its next change; we compare it with the replica table and bring
 * the replica along, inside the apply transaction, before that change is applied:
 *
 * - a new table in a replicated schema: created (columns, key, metadata columns), then
 *   resynced so that rows written before its first change are there too;
 * - ADD COLUMN: added; a constant default (PostgreSQL's "missing value") fills the
 *   existing rows exactly as on the source; a volatile default rewrote the source table
 *   without sending changes, so the table is resynced;
 * - DROP COLUMN: dropped (kept, nullable, when a view depends on it);
 * - RENAME COLUMN: recognised when one column vanished and one appeared at the same
 *   position with the same type; renamed, values kept;
 * - ALTER COLUMN TYPE: converted through text, then resynced (the source's own USING
 *   expression is not visible to us).
 * What cannot be followed (a type the replica does not have) stops that table alone with
 * an error in elt.tables; the other tables go on.
 */
import type pg from 'pg';
import type { ClientBase } from 'pg';
import { EltError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PgoutputMessage } from '../source/pgoutput.js';
import { ident, literal, qualified } from '../sql.js';
import { METADATA_COLUMN_DDL } from './metadata-columns.js';

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;

export interface SchemaContext {
  lc: Logger;
  /** Runs SQL in the apply transaction, after the changes staged so far are applied. */
  dest: { query(sql: string, params?: unknown[]): Promise<pg.QueryResult> };
  source: ClientBase;
  sourceSchemas: string[];
  targetSchema: string;
  slot: string;
}

/** A table the replicator cannot follow: it stops, the others go on. */
export class TableStoppedError extends EltError {
  override readonly name = 'TableStoppedError';
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
  const { rows } = await ctx.source.query<{ builtin: string; schema: string; name: string; is_array: boolean; extension: boolean }>(
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
  if (!row) throw new TableStoppedError(`The source type ${typeOid} is unknown.`, 'Resync the table.');
  if (row.schema === 'pg_catalog' || row.schema === 'information_schema') return row.builtin;
  const schema = row.extension ? row.schema : ctx.targetSchema;
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
  const { rows } = await ctx.dest.query(
    `WITH job AS (
       INSERT INTO elt.resync_jobs (slot_name, requested_by)
       SELECT $1, $4 WHERE NOT EXISTS (SELECT 1 FROM elt.resync_job_tables
         WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3 AND state IN ('queued', 'running'))
       RETURNING id)
     INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table) SELECT id, $1, $2, $3 FROM job RETURNING job_id`,
    [ctx.slot, schema, table, `elt: ${reason}`],
  );
  if (rows[0]) await ctx.dest.query(`SELECT pg_notify('elt_resync', $1)`, [String(rows[0].job_id)]);
  ctx.lc.warn({ table: `${schema}.${table}`, reason }, 'the table will be resynced to follow a source change');
}

/** Create the replica of a table that appeared on the source after the snapshot. */
export async function createReplicaTable(ctx: SchemaContext, relation: RelationMessage): Promise<void> {
  const columns: string[] = [];
  for (const column of relation.columns) {
    const type = await replicaType(ctx, column.typeOid, column.typeMod);
    if (!(await typeExists(ctx, type))) {
      throw new TableStoppedError(`The new source table ${relation.schema}.${relation.name} uses the type ${type}, which the replica lacks.`, 'Run a full resync (elt teardown --drop-target, then elt replicate).');
    }
    columns.push(`${ident(column.name)} ${type}`);
  }
  const keys = relation.columns.filter((c) => c.isKey).map((c) => ident(c.name));
  const key = keys.length > 0 && relation.replicaIdentity !== 'f' ? `, PRIMARY KEY (${keys.join(', ')})` : '';
  const target = qualified(ctx.targetSchema, relation.name);
  await ctx.dest.query(`CREATE TABLE ${target} (${columns.join(', ')}, ${METADATA_COLUMN_DDL}${key})`);
  await ctx.dest.query(
    `INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state, snapshot_done_at)
     VALUES ($1, $2, $3, $4, $3, 'streaming', now()) ON CONFLICT (slot_name, source_schema, source_table) DO UPDATE SET state = 'streaming'`,
    [ctx.slot, relation.schema, relation.name, ctx.targetSchema],
  );
  ctx.lc.info({ table: `${relation.schema}.${relation.name}` }, 'a new source table: created its replica');
  await requestResync(ctx, relation.schema, relation.name, 'new table');
}

/** Bring the replica table's columns in line with the relation (queueing a resync where values need it). */
export async function followColumns(ctx: SchemaContext, relation: RelationMessage, dest: DestColumn[]): Promise<void> {
  const target = qualified(ctx.targetSchema, relation.name);
  const label = `${relation.schema}.${relation.name}`;
  const destByName = new Map(dest.map((c) => [c.name, c]));
  const wanted = await Promise.all(relation.columns.map(async (c) => ({ name: c.name, type: await replicaType(ctx, c.typeOid, c.typeMod) })));
  const added = wanted.filter((c) => !destByName.has(c.name));
  const gone = dest.filter((c) => !wanted.some((w) => w.name === c.name));
  let resync: string | null = null;

  // A rename: one column gone and one new at the same position, same type.
  if (added.length === 1 && gone.length === 1) {
    const newAt = wanted.indexOf(added[0]!);
    const oldAt = dest.indexOf(gone[0]!);
    if (newAt === oldAt && (await sameType(ctx, added[0]!.type, gone[0]!.type))) {
      await ctx.dest.query(`ALTER TABLE ${target} RENAME COLUMN ${ident(gone[0]!.name)} TO ${ident(added[0]!.name)}`);
      ctx.lc.info({ table: label, from: gone[0]!.name, to: added[0]!.name }, 'followed a column rename');
      added.length = 0;
      gone.length = 0;
    }
  }

  for (const column of added) {
    if (!(await typeExists(ctx, column.type))) {
      throw new TableStoppedError(`The source column ${label}.${column.name} has the type ${column.type}, which the replica lacks.`, 'Run a full resync of the replica.');
    }
    const { rows } = await ctx.source.query<{ missing: string | null; has_default: boolean }>(
      `SELECT (a.attmissingval::text::text[])[1] AS missing, a.atthasdef AS has_default
       FROM pg_attribute a WHERE a.attrelid = $1 AND a.attname = $2`,
      [relation.relationId, column.name],
    );
    const source = rows[0];
    const fill = source?.missing != null ? ` DEFAULT ${literal(source.missing)}::${column.type}` : '';
    await ctx.dest.query(`ALTER TABLE ${target} ADD COLUMN ${ident(column.name)} ${column.type}${fill}`);
    if (fill) await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${ident(column.name)} DROP DEFAULT`);
    if (source?.has_default && source.missing == null) resync = `column ${column.name} was added with a volatile default`;
    ctx.lc.info({ table: label, column: column.name, type: column.type }, 'followed ADD COLUMN');
  }

  for (const column of gone) {
    try {
      await ctx.dest.query('SAVEPOINT elt_drop_column');
      await ctx.dest.query(`ALTER TABLE ${target} DROP COLUMN ${ident(column.name)}`);
      await ctx.dest.query('RELEASE SAVEPOINT elt_drop_column');
      ctx.lc.info({ table: label, column: column.name }, 'followed DROP COLUMN');
    } catch (error) {
      await ctx.dest.query('ROLLBACK TO SAVEPOINT elt_drop_column');
      await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${ident(column.name)} DROP NOT NULL`);
      ctx.lc.warn({ table: label, column: column.name, err: error }, 'the source dropped a column that objects in the replica depend on: kept it, nullable');
    }
  }

  for (const column of wanted) {
    const current = destByName.get(column.name);
    if (!current || (await sameType(ctx, column.type, current.type))) continue;
    await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${ident(column.name)} TYPE ${column.type} USING ${ident(column.name)}::text::${column.type}`);
    resync = `column ${column.name} changed type to ${column.type}`;
    ctx.lc.info({ table: label, column: column.name, type: column.type }, 'followed ALTER COLUMN TYPE');
  }
  if (resync) await requestResync(ctx, relation.schema, relation.name, resync);
}
