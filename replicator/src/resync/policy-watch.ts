/**
 * At start, before the stream: a table whose column policy (ELT_EXCLUDE_COLUMNS,
 * ELT_MASK_COLUMNS, ELT_MASK_KEY) differs from the one its replica was copied with is brought to
 * the new policy, so that its replica is all one way: its columns follow at once (a newly
 * excluded column is dropped with its values, one no longer excluded is added, a column masked
 * to text or no longer is retyped) and it is resynced online, the copy and the stream both
 * under the new policy. Compared by attnum (elt.tables.column_policy), so a rename alone changes
 * nothing; a rename that makes a column match a pattern or stop matching one while streaming is
 * followed by ../schema/follow-columns.ts.
 */
import type { ClientBase } from 'pg';
import { replicaType, type SchemaContext } from '../schema/schema-changes.js';
import { readCatalogTableByName, type CatalogColumn } from '../schema/source-catalog.js';
import { policyChange, policyScope, type ColumnDecision } from '../source/column-policy.js';
import { masksToText } from '../source/mask.js';
import { ident, qualified } from '../sql.js';
import { readColumnPolicies, type TablePolicyRow } from '../state/column-policies.js';
import { readReplicationState } from '../state/control.js';
import {
  readRecordedTable,
  recordReplicaColumns,
  type RecordedColumn,
  type TableIdentity,
} from '../state/replica-columns.js';
import { enqueueResync } from '../state/resync-queue.js';

/** Table states whose replica holds rows of a policy: the others are being copied, or not replicated. */
const HELD_STATES = new Set(['streaming', 'error']);

export async function watchColumnPolicies(ctx: SchemaContext & { control: ClientBase }): Promise<void> {
  const state = await readReplicationState(ctx.control, ctx.slot);
  if (state?.phase !== 'streaming') return;
  for (const row of await readColumnPolicies(ctx.control, ctx.slot)) {
    if (!HELD_STATES.has(row.state)) continue;
    const catalog = await readCatalogTableByName(ctx.source, row.schema, row.table);
    if (!catalog) continue;
    const identity = await readRecordedTable(ctx.control, ctx.slot, row.schema, row.table);
    const current = ctx.columns.forTable(row.schema, row.table, catalog.columns);
    const scope = policyScope(
      catalog.columns.map((c) => c.attnum),
      identity?.columns.map((c) => c.attnum) ?? [],
      row,
    );
    const change = policyChange(row, current, scope);
    if (!change) continue;
    const live = catalog.columns.filter((c) => !c.generated);
    await ctx.control.query('BEGIN');
    try {
      if (identity?.oid != null) await followPolicy(ctx, row, { ...identity, oid: identity.oid }, live);
      await enqueueResync(ctx.control, ctx.slot, [{ schema: row.schema, table: row.table }], `elt: ${change}`);
      await ctx.control.query('COMMIT');
    } catch (error) {
      await ctx.control.query('ROLLBACK');
      throw error;
    }
    ctx.lc.warn(
      { table: `${row.schema}.${row.table}`, reason: change },
      'the table will be resynced under its new column policy',
    );
  }
}

/** Bring the replica's columns to the policy (in the caller's transaction) and record what it holds. */
async function followPolicy(
  ctx: SchemaContext & { control: ClientBase },
  recorded: TablePolicyRow,
  identity: TableIdentity,
  live: CatalogColumn[],
): Promise<void> {
  const { schema, table } = recorded;
  const target = qualified(ctx.targets.of(schema), table);
  const was = new Map(recorded.entries.map((e) => [e.attnum, e.policy]));
  const held = new Map(identity.columns.map((c) => [c.attnum, c]));
  const columns: RecordedColumn[] = [];
  for (const column of live) {
    const decision = ctx.columns.decide(schema, table, column.name);
    const before = held.get(column.attnum);
    if (decision.action === 'exclude') {
      if (before) await ctx.control.query(`ALTER TABLE ${target} DROP COLUMN IF EXISTS ${ident(before.name)}`);
      continue;
    }
    const type = await wantedType(ctx, column, decision);
    if (!before) {
      // Left out until now (a column the stream has not announced yet is the resync's to add).
      if (was.get(column.attnum) !== 'exclude') continue;
      await ctx.control.query(`ALTER TABLE ${target} ADD COLUMN ${ident(column.name)} ${type}`);
      columns.push({ attnum: column.attnum, name: column.name });
      continue;
    }
    columns.push(before);
    const toText = textual(was.get(column.attnum));
    if (toText !== (decision.action === 'mask' && masksToText(decision.method)))
      await retype(ctx.control, target, before.name, type);
  }
  await recordReplicaColumns(ctx.control, ctx.slot, { ...identity, columns });
  ctx.lc.info({ table: `${schema}.${table}` }, 'the replica columns follow the new column policy');
}

/** Whether a recorded policy masks to text. */
function textual(policy: string | undefined): boolean {
  return policy === 'hash' || (policy?.startsWith('redact:') ?? false);
}

async function wantedType(ctx: SchemaContext, column: CatalogColumn, decision: ColumnDecision): Promise<string> {
  if (decision.action === 'mask' && masksToText(decision.method)) return 'text';
  return replicaType(ctx, column.typeOid, column.typeMod);
}

/**
 * Change a column's type; its values are replaced by the resync. Clear values convert to text;
 * masked text rarely converts back, and is then emptied (a key column's rows go: they come back
 * with the resync's swap).
 */
async function retype(db: ClientBase, target: string, name: string, type: string): Promise<void> {
  const column = ident(name);
  await db.query('SAVEPOINT elt_policy_retype');
  try {
    await db.query(`ALTER TABLE ${target} ALTER COLUMN ${column} TYPE ${type} USING ${column}::text::${type}`);
    await db.query('RELEASE SAVEPOINT elt_policy_retype');
    return;
  } catch {
    await db.query('ROLLBACK TO SAVEPOINT elt_policy_retype');
  }
  const { rows } = await db.query<{ key: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = to_regclass($1) AND i.indisunique AND a.attname = $2) AS key`,
    [target, name],
  );
  if (rows[0]?.key) await db.query(`DELETE FROM ${target}`);
  else await db.query(`ALTER TABLE ${target} ALTER COLUMN ${column} DROP NOT NULL`);
  await db.query(`ALTER TABLE ${target} ALTER COLUMN ${column} TYPE ${type} USING NULL`);
}
