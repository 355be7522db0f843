/**
 * Which replica table a Relation message is about, by relation OID, never by name alone:
 *
 * - the OID recorded under the message's name: that table;
 * - the OID recorded under another name: the source renamed the table; so does the replica
 *   (a table still recorded under the new name is gone from the source under it: replaced);
 * - the OID recorded in another source schema: the source moved the table (ALTER TABLE … SET
 *   SCHEMA); the replica moves to the new schema's target and its row follows, nothing copied;
 * - a name recorded with another OID: a new table under a known name (dropped and created
 *   again, or an online migration's swap): the old replica table is replaced, the new one
 *   created and copied online;
 * - a name recorded before OIDs were kept (an older installation): adopted.
 */
import type { PgoutputMessage } from '../source/pgoutput.js';
import { ident, qualified } from '../sql.js';
import {
  findRecordedOid,
  findRecordedOidElsewhere,
  forgetRecordedTable,
  moveRecordedTable,
  readRecordedTable,
  type RecordedElsewhere,
  renameRecordedTable,
} from '../state/replica-columns.js';
import { followNewTable, type RecordedTable } from './follow-columns.js';
import { createReplicaTable, requestResync, type SchemaContext } from './schema-changes.js';
import { followRenamedTable } from '../state/resync-jobs.js';

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;

/**
 * The recorded table the relation is, after following a rename or a replacement; null when
 * its replica table was created just now (and is being copied).
 */
export async function identifyTable(ctx: SchemaContext, relation: RelationMessage): Promise<RecordedTable | null> {
  const { schema, name, relationId } = relation;
  const recorded = await readRecordedTable(ctx.dest, ctx.slot, schema, name);
  if (recorded && (recorded.oid === relationId || recorded.oid === null)) return recorded;
  const formerName = await findRecordedOid(ctx.dest, ctx.slot, schema, relationId);
  if (recorded) await replaceTable(ctx, schema, name, recorded.oid);
  if (formerName !== null) {
    await ctx.dest.query(`ALTER TABLE ${qualified(ctx.targets.of(schema), formerName)} RENAME TO ${ident(name)}`);
    await renameRecordedTable(ctx.dest, ctx.slot, schema, formerName, name);
    ctx.stopped?.follow({ schema, table: formerName }, { schema, table: name }, false);
    await followResyncs(ctx, schema, formerName, name);
    ctx.lc.info({ table: `${schema}.${name}`, from: formerName, oid: relationId }, 'followed a table rename');
    return readRecordedTable(ctx.dest, ctx.slot, schema, name);
  }
  const moved = await findRecordedOidElsewhere(ctx.dest, ctx.slot, schema, relationId);
  if (moved !== null) {
    await moveTable(ctx, moved, relation);
    return readRecordedTable(ctx.dest, ctx.slot, schema, name);
  }
  await createReplicaTable(ctx, relation);
  await followNewTable(ctx, relation);
  return null;
}

/**
 * The source moved the table to another schema: its replica goes to that schema's target, under
 * its name there, and its row and its stop (unless it was marked gone: it streams again) follow.
 */
export async function moveTable(
  ctx: SchemaContext,
  from: RecordedElsewhere,
  to: { schema: string; name: string; relationId: number },
): Promise<void> {
  const { schema, name, relationId } = to;
  const targetSchema = ctx.targets.of(schema);
  if (from.targetSchema !== targetSchema)
    await ctx.dest.query(`ALTER TABLE ${qualified(from.targetSchema, from.table)} SET SCHEMA ${ident(targetSchema)}`);
  if (from.table !== name)
    await ctx.dest.query(`ALTER TABLE ${qualified(targetSchema, from.table)} RENAME TO ${ident(name)}`);
  await moveRecordedTable(ctx.dest, ctx.slot, from, { schema, table: name, targetSchema });
  ctx.stopped?.follow(from, { schema, table: name }, from.gone);
  ctx.lc.info(
    { table: `${schema}.${name}`, from: `${from.schema}.${from.table}`, oid: relationId },
    'followed a table moved to another schema',
  );
}

/** The source table recorded under this name is not the one that has it now: its replica goes. */
async function replaceTable(ctx: SchemaContext, schema: string, name: string, oldOid: number | null): Promise<void> {
  await ctx.dest.query(`DROP TABLE IF EXISTS ${qualified(ctx.targets.of(schema), name)}`);
  await forgetRecordedTable(ctx.dest, ctx.slot, schema, name);
  ctx.lc.warn(
    { table: `${schema}.${name}`, oldOid },
    'another source table now has this name: its replica table was dropped, the new one is copied',
  );
}

/** Resyncs wait under the table's old name: a queued one follows the rename, a running one (copying by the old name) is asked again. */
async function followResyncs(ctx: SchemaContext, schema: string, from: string, to: string): Promise<void> {
  if (await followRenamedTable(ctx.dest, ctx.slot, schema, from, to))
    await requestResync(ctx, schema, to, `renamed from ${from} while a resync copied it`);
}
