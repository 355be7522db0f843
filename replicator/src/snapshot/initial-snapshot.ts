/**
 * The first full copy, and every full resync: create the slot with an exported snapshot,
 * plan the replica from the source catalog at that snapshot, create the target schema,
 * then copy each table and build its indexes after its rows. Returns the slot's consistent
 * point, from which streaming starts: nothing is missed, nothing applied twice.
 *
 * `ELT_SNAPSHOT_JOBS` copies run at once, each on its own source connection reading at the
 * one exported snapshot and its own destination connection: whole tables, and the block
 * ranges of a table bigger than `ELT_SNAPSHOT_SPLIT_MB` (./table-parts.ts). A table is
 * `streaming` only once its rows, all its parts and its indexes have committed
 * (./snapshot-table.ts); a crash leaves the others `snapshotting`, and a restart empties and
 * copies only those (./resume-snapshot.ts). A table the replica cannot hold (a missing
 * extension, DDL the destination refuses, a refused row) is marked `error` with the reason;
 * the others are copied. Only a transient failure ends the attempt.
 *
 * Each table's rows and bytes are estimated first (progress/table-estimate.ts): the biggest
 * tables are copied first, and progress is shown against the estimates.
 */
import { recordColumnPolicy } from '../state/column-policies.js';
import { columnPolicyFrom } from '../source/column-policy.js';
import { checkOwnTargetSchema } from '../schema/own-target-schema.js';
import { targetSchemas } from '../schema/target-schemas.js';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { readCatalog } from '../schema/catalog.js';
import { createReplicaTables } from '../schema/create-replica.js';
import { planReplica, type ReplicaPlan, type TablePlan } from '../schema/replica-ddl.js';
import type { PublishedTable } from '../source/publication.js';
import { createSlotWithSnapshot } from '../source/slot.js';
import { connectDestination, connectSource } from '../source/source-db.js';
import { ident, literal, qualified } from '../sql.js';
import { beginSnapshotState, finishSnapshotState, upsertTable } from '../state/control.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { estimateTable, type TableEstimate } from '../progress/table-estimate.js';
import { readIdentitiesAtSnapshot } from '../schema/snapshot-identity.js';
import { tableTasks, type SnapshotContext } from './snapshot-table.js';
import { splitTable } from './table-parts.js';
import { copyFormatFor } from './copy-table.js';
import type { CopyFormat } from './copy-rows.js';

const MB = 1024 * 1024;

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
    {
      slot: config.slot,
      lsn,
      snapshot: snapshot.snapshotName,
      tables: tables.length,
    },
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
    copyable.map((t) => ({
      schema: t.table.schema,
      table: t.table.name,
      columns: t.copyColumns,
    })),
  );
  const splitting = await splitFacts(source, copyable);
  const ctx: SnapshotContext = {
    lc,
    config,
    metrics,
    progress,
    plan,
    snapshotName: snapshot.snapshotName,
    control,
    copied: [],
  };
  const serversMatch = sameKind(await serverKind(source), await serverKind(control));
  const tasks = copyable.flatMap((table) => {
    const estimate = estimates.get(table.table.oid) ?? { rows: 0, bytes: 0 };
    const parts = splitTable({
      blocks: splitting.blocks.get(table.table.oid) ?? 0,
      bytes: estimate.bytes,
      partBytes: config.snapshotSplitMb * MB,
      tidRangeScan: splitting.tidRangeScan,
      partitioned: table.table.kind === 'p',
    });
    const identity = identities.find((i) => i.schema === table.table.schema && i.table === table.table.name);
    return tableTasks(ctx, { table, identity, estimate, parts, format: copyFormatOf(table, serversMatch) });
  });
  let totalRows = 0;
  await forEachParallel(tasks, config.snapshotJobs, async (task) => {
    const rows = await task();
    totalRows += rows;
  });
  await finishSnapshotState(control, config.slot, snapshot.consistentPoint);
  void analyzeTables(lc, config, ctx.copied);
  lc.info(
    { lsn, rows: totalRows, seconds: (Date.now() - started) / 1000 },
    'snapshot complete; streaming from its consistent point',
  );
  return snapshot.consistentPoint;
}

/**
 * ANALYZE the copied tables, one after the other, beside the stream: statistics for the apply's
 * and the user's queries, without holding the snapshot's end (autovacuum would come to it too).
 */
async function analyzeTables(lc: Logger, config: Config, tables: string[]): Promise<void> {
  const db = await connectDestination(config.destinationUrl, 'elt-snapshot-analyze').catch(() => null);
  if (!db) return; // the destination is gone: autovacuum analyzes the tables later
  try {
    for (const table of tables)
      await db
        .query(`ANALYZE ${table}`)
        .catch((error: unknown) => lc.warn({ table, err: error }, 'ANALYZE of the copied table failed'));
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** Each table's heap size in blocks (how a big one is split), and whether the source reads a ctid range without a full scan. */
async function splitFacts(
  source: pg.Client,
  tables: TablePlan[],
): Promise<{ blocks: Map<number, number>; tidRangeScan: boolean }> {
  const { rows } = await source.query<{
    oid: number;
    blocks: number;
    version: number;
  }>(
    `SELECT c.oid::int AS oid, (pg_relation_size(c.oid) / current_setting('block_size')::int)::int AS blocks,
       current_setting('server_version_num')::int AS version
     FROM pg_class c WHERE c.oid = ANY($1::oid[])`,
    [tables.map((t) => t.table.oid)],
  );
  const version = rows[0]?.version ?? 0;
  return {
    blocks: new Map(rows.map((r) => [r.oid, r.blocks])),
    tidRangeScan: version >= 140_000,
  };
}

/** How a table's rows travel: binary when nothing can read its bytes differently (./copy-table.ts). */
function copyFormatOf(table: TablePlan, serversMatch: boolean): CopyFormat {
  const byName = new Map(table.table.columns.map((c) => [c.name, c]));
  // A copied column the catalog does not list (never: they come from it) would travel as text.
  const unknown = { typeOid: Number.POSITIVE_INFINITY, binaryIo: false };
  return copyFormatFor({
    columns: table.copyColumns.map((name) => byName.get(name) ?? unknown),
    masked: table.copyMasks.some((m) => m !== null),
    serversMatch,
  });
}

/** What decides whether two servers read a binary COPY alike: the major version and the server encoding. */
async function serverKind(db: pg.ClientBase): Promise<{ major: number; encoding: string }> {
  const { rows } = await db.query<{ major: number; encoding: string }>(
    "SELECT current_setting('server_version_num')::int / 10000 AS major, current_setting('server_encoding') AS encoding",
  );
  return rows[0]!;
}

function sameKind(a: { major: number; encoding: string }, b: { major: number; encoding: string }): boolean {
  return a.major === b.major && a.encoding === b.encoding;
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
    return planReplica(catalog, {
      sourceSchemas: config.sourceSchemas,
      targets: targetSchemas(config),
      columns: columnPolicyFrom(config),
    });
  } finally {
    await db.end();
  }
}

/**
 * Drop and create the target schemas with every table the plan can create, and record each
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
    const targets = targetSchemas(config);
    for (const schema of targets.all(config.sourceSchemas)) {
      await checkOwnTargetSchema(db, schema);
      await db.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
      await db.query(`CREATE SCHEMA ${ident(schema)}`);
    }
    const failed = await createReplicaTables(lc, db, plan);
    for (const table of plan.tables) {
      const { schema, name, oid } = table.table;
      const reason = failed.get(oid);
      if (!reason)
        await db.query(
          `ALTER TABLE ${qualified(table.targetSchema, name)} ALTER COLUMN _lsn SET DEFAULT ${literal(formatLsn(lsn))}`,
        );
      await upsertTable(db, config.slot, {
        sourceSchema: schema,
        sourceTable: name,
        targetSchema: table.targetSchema,
        targetTable: name,
        state: reason ? 'error' : 'snapshotting',
        rowsEstimated: estimates.get(oid)?.rows ?? 0,
        lastError: reason,
      });
      await recordColumnPolicy(db, config.slot, schema, name, table.columnPolicy);
      metrics.snapshotRowsEstimated.set({ table: `${schema}.${name}` }, estimates.get(oid)?.rows ?? 0);
    }
    await db.query('COMMIT');
    return plan.tables.filter((t) => !failed.has(t.table.oid));
  } finally {
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
