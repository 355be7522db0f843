/**
 * A resync of a table the replica does not hold yet (its DDL failed at the snapshot, say an
 * extension was missing and has since been installed) first creates the replica table from
 * the source catalog, exactly as the snapshot would have: same plan, same types.
 */
import type pg from 'pg';
import { TableFailure } from '../failures.js';
import type { Logger } from '../log.js';
import { qualified } from '../sql.js';
import { readCatalog } from './catalog.js';
import { createReplicaIndexes, createReplicaTables } from './create-replica.js';
import { planReplica, type ReplicaDdlOptions } from './replica-ddl.js';

/** Create `schema.table`'s replica if it is missing (its data comes from the resync's copy). */
export async function ensureReplicaTable(lc: Logger, source: pg.Client, dest: pg.Client, options: ReplicaDdlOptions, schema: string, table: string): Promise<void> {
  const exists = await dest.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [qualified(options.targetSchema, table)]);
  if (exists.rows[0]?.ok) return;
  const found = await source.query<{ oid: number | null }>('SELECT to_regclass($1)::oid::int AS oid', [qualified(schema, table)]);
  const oid = found.rows[0]?.oid;
  if (!oid) throw new TableFailure(schema, table, `The source has no table ${schema}.${table}.`, 'Check the table name.');
  await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const catalog = await readCatalog(source, [oid], options.sourceSchemas).finally(() => source.query('COMMIT'));
  const plan = planReplica(catalog, options);
  await dest.query('BEGIN');
  try {
    const reason = (await createReplicaTables(lc, dest, plan)).get(oid) ?? (await createReplicaIndexes(lc, dest, plan, plan.tables[0]!));
    if (reason) throw new TableFailure(schema, table, reason, 'Fix the cause, then resync the table again.');
    await dest.query('COMMIT');
  } catch (error) {
    await dest.query('ROLLBACK');
    throw error;
  }
  lc.info({ table: `${schema}.${table}` }, 'resync: created the replica table from the source catalog');
}
