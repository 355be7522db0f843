/**
 * Before a resync copies a table: a table the replica does not hold yet (its DDL failed at
 * the snapshot, say an extension was missing and has since been installed) is created from
 * the source catalog, exactly as the snapshot would have (same plan, same types), and labels
 * the source added to its enums since are added to the replica's.
 */
import type pg from 'pg';
import { TableFailure } from '../failures.js';
import type { Logger } from '../log.js';
import { literal, qualified } from '../sql.js';
import { readCatalog, type SourceCatalog } from './catalog.js';
import { createReplicaIndexes, createReplicaTables } from './create-replica.js';
import { planReplica, type ReplicaDdlOptions, type ReplicaPlan } from './replica-ddl.js';

/** Create `schema.table`'s replica if it is missing (its data comes from the resync's copy). */
export async function ensureReplicaTable(
  lc: Logger,
  source: pg.Client,
  dest: pg.Client,
  options: ReplicaDdlOptions,
  schema: string,
  table: string,
): Promise<void> {
  const found = await source.query<{ oid: number | null }>('SELECT to_regclass($1)::oid::int AS oid', [
    qualified(schema, table),
  ]);
  const oid = found.rows[0]?.oid;
  if (!oid)
    throw new TableFailure(schema, table, `The source has no table ${schema}.${table}.`, 'Check the table name.');
  await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const catalog = await readCatalog(source, [oid], options.sourceSchemas).finally(() => source.query('COMMIT'));
  const plan = planReplica(catalog, options);
  await addEnumLabels(lc, dest, catalog, plan);
  const exists = await dest.query<{ ok: boolean; indexes: number }>(
    'SELECT to_regclass($1) IS NOT NULL AS ok, (SELECT count(*)::int FROM pg_index WHERE indrelid = to_regclass($1)) AS indexes',
    [qualified(options.targets.of(schema), table)],
  );
  if (exists.rows[0]?.ok) {
    // A table an interrupted snapshot created but never copied has no indexes yet: without its key, every apply scans it.
    if (exists.rows[0].indexes === 0 && plan.tables[0]!.identityIndex)
      await createIndexes(lc, dest, plan, schema, table);
    return;
  }
  await dest.query('BEGIN');
  try {
    const reason =
      (await createReplicaTables(lc, dest, plan)).get(oid) ??
      (await createReplicaIndexes(lc, dest, plan, plan.tables[0]!));
    if (reason) throw new TableFailure(schema, table, reason, 'Fix the cause, then resync the table again.');
    await dest.query('COMMIT');
  } catch (error) {
    await dest.query('ROLLBACK');
    throw error;
  }
  lc.info({ table: `${schema}.${table}` }, 'resync: created the replica table from the source catalog');
}

/**
 * Labels the source added to an enum since the replica's copy was made (ALTER TYPE … ADD
 * VALUE), added to the replica's enum in the same order, and committed before the copy uses them.
 */
async function addEnumLabels(lc: Logger, dest: pg.Client, catalog: SourceCatalog, plan: ReplicaPlan): Promise<void> {
  for (const object of plan.objects) {
    const type = object.kind === 'type' ? catalog.types.get(Number(object.key.split(':')[1])) : undefined;
    if (type?.typtype !== 'e') continue;
    const { rows } = await dest.query<{ label: string }>(
      'SELECT enumlabel::text AS label FROM pg_enum WHERE enumtypid = to_regtype($1) ORDER BY enumsortorder',
      [object.name],
    );
    if (rows.length === 0) continue;
    const have = new Set(rows.map((r) => r.label));
    for (const [i, label] of type.enumLabels.entries()) {
      if (have.has(label)) continue;
      const after = type.enumLabels
        .slice(0, i)
        .reverse()
        .find((l) => have.has(l));
      const place = after !== undefined ? `AFTER ${literal(after)}` : `BEFORE ${literal(rows[0]!.label)}`;
      await dest.query(`ALTER TYPE ${object.name} ADD VALUE IF NOT EXISTS ${literal(label)} ${place}`);
      have.add(label);
      lc.info({ type: object.label, label }, 'added a label the source added to an enum');
    }
  }
}

async function createIndexes(
  lc: Logger,
  dest: pg.Client,
  plan: ReplicaPlan,
  schema: string,
  table: string,
): Promise<void> {
  await dest.query('BEGIN');
  try {
    const reason = await createReplicaIndexes(lc, dest, plan, plan.tables[0]!);
    if (reason) throw new TableFailure(schema, table, reason, 'Fix the cause, then resync the table again.');
    await dest.query('COMMIT');
  } catch (error) {
    await dest.query('ROLLBACK');
    throw error;
  }
  lc.info({ table: `${schema}.${table}` }, 'resync: built the indexes of a replica table that had none');
}
