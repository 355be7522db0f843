/**
 * Bringing a replica table's columns in line with a Relation message, by attnum
 * (./column-plan.ts): drops, renames (through temporary names, so swaps work), adds and type
 * changes. What the stream and the catalog cannot prove is followed by name only to let the
 * change apply, and the table is resynced.
 */
import { TableFailure } from '../failures.js';
import type { PgoutputMessage } from '../source/pgoutput.js';
import { ident, literal, qualified } from '../sql.js';
import { recordReplicaColumns, type RecordedColumn, type TableIdentity } from '../state/replica-columns.js';
import { planColumns } from './column-plan.js';
import { replicaType, requestResync, sameType, type DestColumn, type SchemaContext } from './schema-changes.js';
import { readCatalogTable, withColumnPolicy, type CatalogColumn, type CatalogTable } from './source-catalog.js';
import { EltError } from '../errors.js';
import { liftedColumns, policyChange, policyScope } from '../source/column-policy.js';
import { readColumnPolicy, recordColumnPolicy } from '../state/column-policies.js';

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;

/** What elt.tables holds for the table (its OID may still be unknown: an older installation). */
export type RecordedTable = Omit<TableIdentity, 'oid'> & { oid: number | null };

/**
 * A table created in the replica from its Relation message: record what the catalog proves,
 * add the columns added since (the copy takes them), and copy it.
 */
export async function followNewTable(ctx: SchemaContext, relation: RelationMessage): Promise<void> {
  const source = await readCatalogTable(ctx.source, relation.relationId);
  const catalog = source && withColumnPolicy(source, ctx.columns, relation.schema, relation.name);
  const planned = catalog ? planColumns(relation.columns, catalog, [], null) : null;
  // Columns dropped before any was recorded make the match unsure: the copy records what it holds.
  const plan = planned?.proven && !planned.ambiguous ? planned : null;
  const held: RecordedColumn[] = plan
    ? relation.columns.map((c, i) => ({ attnum: plan.attnums[i]!, name: c.name }))
    : [];
  if (catalog) held.push(...(await addCatalogColumns(ctx, relation, catalog, plan ? plan.later : null)));
  await recordReplicaColumns(ctx.dest, ctx.slot, {
    schema: relation.schema,
    table: relation.name,
    oid: relation.relationId,
    storage: catalog?.storage,
    natts: catalog?.natts,
    columns: plan ? held : [],
  });
  // Created under the policy of now (the relation came filtered), and copied under it.
  if (source)
    await recordColumnPolicy(
      ctx.dest,
      ctx.slot,
      relation.schema,
      relation.name,
      ctx.columns.forTable(relation.schema, relation.name, source.columns),
    );
  await requestResync(ctx, relation.schema, relation.name, 'new table');
}

/** Follow the relation's columns; queues a resync where the values cannot be trusted. */
export async function followColumns(
  ctx: SchemaContext,
  relation: RelationMessage,
  recorded: RecordedTable,
  dest: DestColumn[],
): Promise<void> {
  const source = await readCatalogTable(ctx.source, relation.relationId);
  const catalog = source && withColumnPolicy(source, ctx.columns, relation.schema, relation.name);
  if (!catalog) {
    // Dropped on the source since: its last changes apply by name; there is nothing to copy
    // (a table created again under its name comes with a new OID and is copied then).
    await followByName(ctx, relation, dest);
    ctx.lc.warn(
      { table: `${relation.schema}.${relation.name}`, oid: relation.relationId },
      'the source table is gone: its last changes are applied by column name',
    );
    return;
  }
  const plan = planColumns(relation.columns, catalog, recorded.columns, recorded.natts ?? null);
  const reasons: string[] = [];
  // A rename may make a column match a pattern of ELT_EXCLUDE_COLUMNS / ELT_MASK_COLUMNS, or stop matching one.
  const policy = await policyReason(ctx, relation, source, recorded);
  if (policy) reasons.push(policy);
  if (plan.proven && recorded.columns.length > 0) {
    reasons.push(...(await followPlan(ctx, relation, plan, catalog, recorded, dest)));
  } else {
    // Nothing recorded yet (an older installation), or nothing proven: by name, then a copy.
    const changed = await followByName(ctx, relation, dest);
    if (!plan.proven) reasons.push(plan.reason);
    else if (changed) reasons.push('its columns changed before the replica knew their attnums');
  }
  const held: RecordedColumn[] = plan.proven
    ? relation.columns.map((c, i) => ({ attnum: plan.attnums[i]!, name: c.name }))
    : [];
  // The copy takes the table as the catalog has it now, which the stream may not have reached.
  if (reasons.length > 0)
    held.push(...(await addCatalogColumns(ctx, relation, catalog, plan.proven ? plan.later : null)));
  if (held.length > 0 || recorded.columns.length > 0) {
    await recordReplicaColumns(ctx.dest, ctx.slot, {
      schema: relation.schema,
      table: relation.name,
      oid: relation.relationId,
      storage: catalog.storage,
      natts: catalog.natts,
      columns: plan.proven ? held : [],
    });
  }
  if (reasons.length > 0) await requestResync(ctx, relation.schema, relation.name, reasons.join('; '));
}

/**
 * Why the table's replica no longer follows its column policy (it holds values of another), or
 * null; then the recorded policy takes the columns added since and the new names.
 */
async function policyReason(
  ctx: SchemaContext,
  relation: RelationMessage,
  source: CatalogTable,
  held: RecordedTable,
): Promise<string | null> {
  const recorded = await readColumnPolicy(ctx.dest, ctx.slot, relation.schema, relation.name);
  if (!recorded) return null;
  const current = ctx.columns.forTable(relation.schema, relation.name, source.columns);
  const scope = policyScope(
    source.columns.map((c) => c.attnum),
    held.columns.map((c) => c.attnum),
    recorded,
  );
  const lifted = liftedColumns(recorded, current, scope);
  if (lifted.length > 0) {
    const label = `${relation.schema}.${relation.name}`;
    throw new TableFailure(
      relation.schema,
      relation.name,
      `A rename left ${lifted.join(', ')} of ${label} outside the ELT_EXCLUDE_COLUMNS / ELT_MASK_COLUMNS patterns that covered ${lifted.length > 1 ? 'them' : 'it'}: following it would send ${lifted.length > 1 ? 'their' : 'its'} values in clear, so the table stopped.`,
      `Add a pattern for the new name (${label}.${lifted[0]}), or leave the table out (ELT_EXCLUDE_TABLES), restart elt, then resync ${label}.`,
    );
  }
  const change = policyChange(recorded, current, scope);
  if (!change && JSON.stringify(current) !== JSON.stringify(recorded))
    await recordColumnPolicy(ctx.dest, ctx.slot, relation.schema, relation.name, current);
  return change;
}

/**
 * Before a resync: add the catalog's columns the replica lacks by name (`later`: the columns
 * added after the message, when it is proven), so the copy finds every column it takes.
 * Returns those of `later` it holds now.
 */
async function addCatalogColumns(
  ctx: SchemaContext,
  relation: RelationMessage,
  catalog: CatalogTable,
  later: CatalogColumn[] | null,
): Promise<RecordedColumn[]> {
  const target = qualified(ctx.targets.of(relation.schema), relation.name);
  const dest = await destColumnNames(ctx, target);
  const added: RecordedColumn[] = [];
  for (const column of later ?? catalog.columns.filter((c) => !c.generated)) {
    if (dest.includes(column.name)) continue;
    const type = await replicaType(ctx, column.typeOid, column.typeMod);
    await checkTypeExists(ctx, `${relation.schema}.${relation.name}`, column.name, type);
    await ctx.dest.query(`ALTER TABLE ${target} ADD COLUMN ${ident(column.name)} ${type}`);
    added.push({ attnum: column.attnum, name: column.name });
  }
  return later ? added : [];
}

async function destColumnNames(ctx: SchemaContext, target: string): Promise<string[]> {
  const { rows } = await ctx.dest.query(
    'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
    [target],
  );
  return rows.map((r) => r.attname as string);
}

/** Apply a proven plan; returns the reasons to resync, if any. */
async function followPlan(
  ctx: SchemaContext,
  relation: RelationMessage,
  plan: Extract<ReturnType<typeof planColumns>, { proven: true }>,
  catalog: CatalogTable,
  recorded: RecordedTable,
  dest: DestColumn[],
): Promise<string[]> {
  const target = qualified(ctx.targets.of(relation.schema), relation.name);
  const label = `${relation.schema}.${relation.name}`;
  const reasons: string[] = plan.ambiguous ? [plan.ambiguous] : [];
  for (const column of plan.drops) await dropColumn(ctx, target, label, column.name);
  // Columns added by name before a resync that the source no longer has under that name.
  const strays = dest.filter(
    (d) => !recorded.columns.some((r) => r.name === d.name) && !relation.columns.some((c) => c.name === d.name),
  );
  for (const column of strays) await dropColumn(ctx, target, label, column.name);
  for (const r of plan.renames)
    await ctx.dest.query(`ALTER TABLE ${target} RENAME COLUMN ${ident(r.from)} TO ${ident(`_elt_attnum_${r.attnum}`)}`);
  for (const r of plan.renames) {
    await ctx.dest.query(`ALTER TABLE ${target} RENAME COLUMN ${ident(`_elt_attnum_${r.attnum}`)} TO ${ident(r.to)}`);
    ctx.lc.info({ table: label, from: r.from, to: r.to, attnum: r.attnum }, 'followed a column rename');
  }
  const rewritten = recorded.storage == null || recorded.storage !== catalog.storage;
  const types = await replicaTypes(ctx, relation.columns);
  for (const add of plan.adds) {
    const source = catalog.columns.find((c) => c.attnum === add.attnum)!;
    // A column the catalog already had when last recorded: its missing value may have been lost before then.
    const unknown = rewritten || (recorded.natts != null && add.attnum <= recorded.natts);
    const reason = await addColumn(ctx, target, label, source, types.get(add.name)!, unknown);
    if (reason) reasons.push(reason);
  }
  const destTypes = new Map(dest.map((c) => [c.name, c.type]));
  for (const r of plan.renames) destTypes.set(r.to, dest.find((c) => c.name === r.from)?.type ?? '');
  for (const column of relation.columns) {
    if (plan.adds.some((a) => a.name === column.name)) continue;
    const type = types.get(column.name)!;
    if (await sameType(ctx, type, destTypes.get(column.name) ?? null)) continue;
    await alterType(ctx, target, label, column.name, type);
    reasons.push(`column ${column.name} changed type to ${type}`);
  }
  return reasons;
}

/** Follow by name only (no renames can be told): adds, drops, type changes. Returns whether anything changed. */
async function followByName(ctx: SchemaContext, relation: RelationMessage, dest: DestColumn[]): Promise<boolean> {
  const target = qualified(ctx.targets.of(relation.schema), relation.name);
  const label = `${relation.schema}.${relation.name}`;
  const types = await replicaTypes(ctx, relation.columns);
  let changed = false;
  for (const column of dest.filter((d) => !relation.columns.some((c) => c.name === d.name))) {
    await dropColumn(ctx, target, label, column.name);
    changed = true;
  }
  for (const column of relation.columns) {
    const type = types.get(column.name)!;
    const current = dest.find((d) => d.name === column.name);
    if (!current) {
      await checkTypeExists(ctx, label, column.name, type);
      await ctx.dest.query(`ALTER TABLE ${target} ADD COLUMN ${ident(column.name)} ${type}`);
      changed = true;
    } else if (!(await sameType(ctx, type, current.type))) {
      await alterType(ctx, target, label, column.name, type);
      changed = true;
    }
  }
  return changed;
}

/**
 * Add a source column. A constant default is PostgreSQL's missing value: it fills the
 * existing rows as on the source. Returns a reason to resync when the existing rows' value
 * cannot be known: a volatile default (the source table was rewritten without changes sent),
 * or no missing value on a table that may have been rewritten since the column was added
 * (VACUUM FULL after DROP DEFAULT erases it).
 */
async function addColumn(
  ctx: SchemaContext,
  target: string,
  label: string,
  source: CatalogColumn,
  type: string,
  mayHaveLostMissing: boolean,
): Promise<string | null> {
  await checkTypeExists(ctx, label, source.name, type);
  const fill = source.missing != null ? ` DEFAULT ${literal(source.missing)}::${type}` : '';
  await ctx.dest.query(`ALTER TABLE ${target} ADD COLUMN ${ident(source.name)} ${type}${fill}`);
  if (fill) await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${ident(source.name)} DROP DEFAULT`);
  ctx.lc.info({ table: label, column: source.name, type, attnum: source.attnum }, 'followed ADD COLUMN');
  if (source.missing != null) return null;
  if (source.hasDefault) return `column ${source.name} was added with a volatile default`;
  if (mayHaveLostMissing)
    return `column ${source.name} was added to a table rewritten since (or before the replica last looked): the value of its existing rows is unknown`;
  return null;
}

/** Drop a replica column; one that objects in the replica depend on is kept, nullable. */
async function dropColumn(ctx: SchemaContext, target: string, label: string, name: string): Promise<void> {
  try {
    await ctx.dest.query('SAVEPOINT elt_drop_column');
    await ctx.dest.query(`ALTER TABLE ${target} DROP COLUMN ${ident(name)}`);
    await ctx.dest.query('RELEASE SAVEPOINT elt_drop_column');
    ctx.lc.info({ table: label, column: name }, 'followed DROP COLUMN');
  } catch (error) {
    await ctx.dest.query('ROLLBACK TO SAVEPOINT elt_drop_column');
    await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${ident(name)} DROP NOT NULL`);
    ctx.lc.warn(
      { table: label, column: name, err: error },
      'the source dropped a column that objects in the replica depend on: kept it, nullable',
    );
  }
}

/**
 * Change a replica column's type. The source's USING expression is not visible: the values
 * are converted through text where that works, else emptied; the caller resyncs the table.
 */
async function alterType(ctx: SchemaContext, target: string, label: string, name: string, type: string): Promise<void> {
  await checkTypeExists(ctx, label, name, type);
  const column = ident(name);
  try {
    await ctx.dest.query('SAVEPOINT elt_alter_type');
    await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${column} TYPE ${type} USING ${column}::text::${type}`);
    await ctx.dest.query('RELEASE SAVEPOINT elt_alter_type');
  } catch (error) {
    await ctx.dest.query('ROLLBACK TO SAVEPOINT elt_alter_type');
    ctx.lc.warn(
      { table: label, column: name, type, err: error },
      'the old values do not convert to the new type: the column is emptied until the resync',
    );
    const { rows } = await ctx.dest.query(
      `SELECT a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)) AS relax
       FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2`,
      [target, name],
    );
    if (rows[0]?.relax === true) await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${column} DROP NOT NULL`);
    await ctx.dest.query(`ALTER TABLE ${target} ALTER COLUMN ${column} TYPE ${type} USING NULL`);
  }
  ctx.lc.info({ table: label, column: name, type }, 'followed ALTER COLUMN TYPE');
}

async function checkTypeExists(ctx: SchemaContext, label: string, column: string, type: string): Promise<void> {
  const { rows } = await ctx.dest.query('SELECT to_regtype($1) IS NOT NULL AS ok', [type]);
  if (rows[0]?.ok !== true)
    throw new EltError(
      `The source column ${label}.${column} has the type ${type}, which the replica lacks.`,
      'Create the type in the replica, then resync the table.',
    );
}

/** OIDs below this are PostgreSQL's own (built-in types have the same OID on every server). */
const FIRST_NORMAL_OID = 16384;

/** The replica's type for each column of the message, by name (built-in types in one query). */
async function replicaTypes(ctx: SchemaContext, columns: RelationMessage['columns']): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  const builtins = columns.filter((c) => c.typeOid < FIRST_NORMAL_OID);
  const { rows } = await ctx.source.query<{ type: string }>(
    'SELECT format_type(t.oid, t.mod) AS type FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, mod, i) ORDER BY t.i',
    [builtins.map((c) => c.typeOid), builtins.map((c) => c.typeMod)],
  );
  builtins.forEach((c, i) => types.set(c.name, rows[i]!.type));
  for (const column of columns)
    if (!types.has(column.name)) types.set(column.name, await replicaType(ctx, column.typeOid, column.typeMod));
  return types;
}
