/**
 * The first full copy, and every full resync: create the slot with an exported snapshot,
 * plan the replica from the source catalog at that snapshot, create the target schema,
 * then copy each table (a few in parallel) and build its indexes. Returns the slot's
 * consistent point, from which streaming starts: nothing is missed, nothing applied twice.
 *
 * Each table is one destination transaction: its rows, its indexes and its `streaming`
 * state commit together, so a crash leaves every table either copied or untouched, and a
 * restart copies only the rest (./resume-snapshot.ts). A table the replica cannot hold (a
 * missing extension, DDL the destination refuses, a refused row) is marked `error` with the
 * reason; the others are copied. Only a transient failure ends the attempt.
 *
 * Each table's rows and bytes are estimated first (progress/table-estimate.ts): the biggest
 * tables are copied first, and progress is shown against the estimates.
 */
import type pg from 'pg';
import type { Config } from '../config.js';
import { classifyFailure, TableFailure, tableFailureReason } from '../failures.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { readCatalog } from '../schema/catalog.js';
import { createReplicaIndexes, createReplicaTables } from '../schema/create-replica.js';
import { planReplica, type ReplicaPlan, type TablePlan } from '../schema/replica-ddl.js';
import type { PublishedTable } from '../source/publication.js';
import { createSlotWithSnapshot } from '../source/slot.js';
import { connectDestination, connectSource } from '../source/source-db.js';
import { ident, literal, qualified } from '../sql.js';
import { beginSnapshotState, finishSnapshotState, recordSnapshotProgress, upsertTable } from '../state/control.js';
import { copyTableAtSnapshot } from './copy-table.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { estimateTable, type TableEstimate } from '../progress/table-estimate.js';
import { recordReplicaColumns, type TableIdentity } from '../state/replica-columns.js';
import { readIdentitiesAtSnapshot } from '../schema/snapshot-identity.js';

export async function runInitialSnapshot(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  progress: ProgressReporter,
  source: pg.Client,
  control: pg.Client,
  tables: PublishedTable[],
): Promise<Lsn> {
  const started = Date.now();
  await using snapshot = await createSlotWithSnapshot(lc, config.sourceUrl, config.slot, source);
  const lsn = formatLsn(snapshot.consistentPoint);
  lc.info(
    { slot: config.slot, lsn, snapshot: snapshot.snapshotName, tables: tables.length },
    'created slot; copying the snapshot',
  );
  await beginSnapshotState(control, config.slot, snapshot.consistentPoint);

  const plan = await planAtSnapshot(config, snapshot.snapshotName, tables);
  const estimates = await estimateTables(source, tables);
  const copyable = await createTargetSchema(lc, config, metrics, plan, estimates, snapshot.consistentPoint);
  copyable.sort((a, b) => (estimates.get(b.table.oid)?.bytes ?? 0) - (estimates.get(a.table.oid)?.bytes ?? 0));

  // Which source table (OID) and columns (attnums) each replica table holds, as the snapshot sees them.
  const identities = await readIdentitiesAtSnapshot(
    config.sourceUrl,
    snapshot.snapshotName,
    copyable.map((t) => ({ schema: t.table.schema, table: t.table.name, columns: t.copyColumns })),
  );
  let totalRows = 0;
  await forEachParallel(copyable, config.snapshotJobs, async (table) => {
    const identity = identities.find((i) => i.schema === table.table.schema && i.table === table.table.name);
    const estimate = estimates.get(table.table.oid) ?? { rows: 0, bytes: 0 };
    totalRows += await copyOneTable(
      lc,
      config,
      metrics,
      { plan, table, identity, estimate },
      progress,
      snapshot.snapshotName,
      control,
    );
  });
  await finishSnapshotState(control, config.slot, snapshot.consistentPoint);
  lc.info(
    { lsn, rows: totalRows, seconds: (Date.now() - started) / 1000 },
    'snapshot complete; streaming from its consistent point',
  );
  return snapshot.consistentPoint;
}

/** Each published table's rows and bytes as the source estimates them now, by OID. */
async function estimateTables(source: pg.Client, tables: PublishedTable[]): Promise<Map<number, TableEstimate>> {
  const estimates = new Map<number, TableEstimate>();
  for (const t of tables) estimates.set(t.oid, await estimateTable(source, t.schema, t.name));
  return estimates;
}

/** Read the source catalog at the exported snapshot and plan the replica of the published tables. */
async function planAtSnapshot(config: Config, snapshotName: string, tables: PublishedTable[]): Promise<ReplicaPlan> {
  const db = await connectSource(config.sourceUrl, 'elt-snapshot-catalog');
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await db.query(`SET TRANSACTION SNAPSHOT ${literal(snapshotName)}`);
    const catalog = await readCatalog(
      db,
      tables.map((t) => t.oid),
      config.sourceSchemas,
    );
    await db.query('COMMIT');
    return planReplica(catalog, { sourceSchemas: config.sourceSchemas, targetSchema: config.targetSchema });
  } finally {
    await db.end();
  }
}

/**
 * Drop and create the target schema with every table the plan can create, and record each
 * table's state, in one transaction. Returns the tables to copy.
 */
async function createTargetSchema(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  plan: ReplicaPlan,
  estimates: Map<number, TableEstimate>,
  lsn: Lsn,
): Promise<TablePlan[]> {
  const db = await connectDestination(config.destinationUrl, 'elt-snapshot-ddl');
  try {
    await db.query('BEGIN');
    await db.query(`DROP SCHEMA IF EXISTS ${ident(config.targetSchema)} CASCADE`);
    await db.query(`CREATE SCHEMA ${ident(config.targetSchema)}`);
    const failed = await createReplicaTables(lc, db, plan);
    for (const table of plan.tables) {
      const { schema, name, oid } = table.table;
      const reason = failed.get(oid);
      if (!reason)
        await db.query(
          `ALTER TABLE ${qualified(config.targetSchema, name)} ALTER COLUMN _lsn SET DEFAULT ${literal(formatLsn(lsn))}`,
        );
      await upsertTable(db, config.slot, {
        sourceSchema: schema,
        sourceTable: name,
        targetSchema: config.targetSchema,
        targetTable: name,
        state: reason ? 'error' : 'snapshotting',
        rowsEstimated: estimates.get(oid)?.rows ?? 0,
        lastError: reason,
      });
      metrics.snapshotRowsEstimated.set({ table: `${schema}.${name}` }, estimates.get(oid)?.rows ?? 0);
    }
    await db.query('COMMIT');
    return plan.tables.filter((t) => !failed.has(t.table.oid));
  } finally {
    await db.end();
  }
}

/**
 * Copy one table and build its indexes in one destination transaction that also marks it
 * `streaming`. A deterministic failure marks the table `error` instead; a transient one is thrown.
 */
async function copyOneTable(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  copy: { plan: ReplicaPlan; table: TablePlan; identity: TableIdentity | undefined; estimate: TableEstimate },
  progress: ProgressReporter,
  snapshotName: string,
  control: pg.Client,
): Promise<number> {
  const { plan, table, identity } = copy;
  const { schema, name, kind } = table.table;
  const label = `${schema}.${name}`;
  const started = Date.now();
  const shown = progress.table('snapshot', label, copy.estimate);
  const db = await connectDestination(config.destinationUrl, 'elt-snapshot-copy');
  try {
    await db.query('BEGIN');
    const rows = await copyTableAtSnapshot(db, {
      sourceUrl: config.sourceUrl,
      snapshotName,
      source: { schema, name, kind },
      target: { schema: config.targetSchema, name },
      columns: table.copyColumns,
      onProgress: (rowsCopied, bytesCopied) => {
        metrics.snapshotRows.set({ table: label }, rowsCopied);
        shown.update(rowsCopied, bytesCopied);
      },
    });
    const keyProblem = await createReplicaIndexes(lc, db, plan, table);
    if (keyProblem) throw new TableFailure(schema, name, keyProblem, 'Resync the table once the cause is fixed.');
    await db.query(`ALTER TABLE ${qualified(config.targetSchema, name)} ALTER COLUMN _lsn DROP DEFAULT`);
    await recordSnapshotProgress(db, config.slot, schema, name, rows, true);
    if (identity) await recordReplicaColumns(db, config.slot, identity);
    await db.query('COMMIT');
    await db
      .query(`ANALYZE ${qualified(config.targetSchema, name)}`)
      .catch((error: unknown) => lc.warn({ table: label, err: error }, 'ANALYZE of the copied table failed'));
    metrics.snapshotRows.set({ table: label }, rows);
    lc.info({ table: label, rows, seconds: (Date.now() - started) / 1000 }, 'table copied');
    return rows;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {
      // The connection is gone: the transaction went with it.
    });
    if (classifyFailure(error) === 'transient') throw error;
    const reason = `Copying the table failed: ${tableFailureReason(error)}`;
    lc.error({ table: label, err: error }, 'table not replicated: the destination refused its copy');
    await upsertTable(control, config.slot, {
      sourceSchema: schema,
      sourceTable: name,
      targetSchema: config.targetSchema,
      targetTable: name,
      state: 'error',
      lastError: reason,
    });
    return 0;
  } finally {
    shown.end();
    await db.end();
  }
}

/**
 * Run `work` over items, at most `jobs` at a time, in the given order. After a failure no
 * new item starts; the first failure rejects once every started item has settled (so no copy
 * outlives the attempt and its exported snapshot).
 */
async function forEachParallel<T>(items: T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(jobs, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
