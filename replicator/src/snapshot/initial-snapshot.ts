/**
 * The first full copy, and every full resync: create the slot with an exported snapshot,
 * rebuild the target schema from the source's DDL at that snapshot, copy every published
 * table through pg_dump | psql, then add keys and indexes. Returns the slot's consistent
 * point, from which streaming starts: nothing is missed and nothing is applied twice.
 */
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { PublishedTable } from '../source/publication.js';
import { createSlotWithSnapshot } from '../source/slot.js';
import { connectDestination } from '../source/source-db.js';
import { ident, literal, qualified } from '../sql.js';
import { beginSnapshotState, finishSnapshotState, recordSnapshotProgress, upsertTable } from '../state/control.js';
import { recordReplicaColumns } from '../state/replica-columns.js';
import { readIdentitiesAtSnapshot } from '../schema/snapshot-identity.js';
import { copyTableData, dumpSchema } from './pg-dump.js';

export async function runInitialSnapshot(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  source: pg.Client,
  dest: pg.Client,
  tables: PublishedTable[],
): Promise<Lsn> {
  const started = Date.now();
  await using snapshot = await createSlotWithSnapshot(lc, config.sourceUrl, config.slot, source);
  const lsn = formatLsn(snapshot.consistentPoint);
  lc.info({ slot: config.slot, lsn, snapshot: snapshot.snapshotName, tables: tables.length }, 'created slot; copying the snapshot');
  await beginSnapshotState(dest, config.slot, snapshot.consistentPoint);

  const ddl = await dumpSchema({
    sourceUrl: config.sourceUrl,
    snapshotName: snapshot.snapshotName,
    sourceSchemas: config.sourceSchemas,
    targetSchema: config.targetSchema,
    tables,
  });
  await runDdl(config.destinationUrl, [
    `DROP SCHEMA IF EXISTS ${ident(config.targetSchema)} CASCADE`,
    `CREATE SCHEMA ${ident(config.targetSchema)}`,
    ddl.preData,
    ...tables.map(
      (t) =>
        `ALTER TABLE ${qualified(config.targetSchema, t.name)} ` +
        `ADD COLUMN _synced_at timestamptz NOT NULL DEFAULT now(), ` +
        `ADD COLUMN _lsn pg_lsn DEFAULT ${literal(lsn)}, ` +
        `ADD COLUMN _deleted boolean NOT NULL DEFAULT false`,
    ),
  ]);
  for (const t of tables) {
    await upsertTable(dest, config.slot, {
      sourceSchema: t.schema,
      sourceTable: t.name,
      targetSchema: config.targetSchema,
      targetTable: t.name,
      state: 'snapshotting',
      rowsEstimated: t.rowsEstimated,
    });
    metrics.snapshotRowsEstimated.set({ table: `${t.schema}.${t.name}` }, t.rowsEstimated);
  }

  const copied = new Map<PublishedTable, number>();
  await forEachParallel(tables, config.snapshotJobs, async (table) => {
    const label = `${table.schema}.${table.name}`;
    const tableStarted = Date.now();
    const rows = await copyTableData({
      sourceUrl: config.sourceUrl,
      destinationUrl: config.destinationUrl,
      snapshotName: snapshot.snapshotName,
      sourceSchemas: config.sourceSchemas,
      targetSchema: config.targetSchema,
      table,
      onProgress: (rowsCopied) => {
        metrics.snapshotRows.set({ table: label }, rowsCopied);
        lc.info({ table: label, rowsCopied, rowsEstimated: table.rowsEstimated }, 'snapshot progress');
      },
    });
    copied.set(table, rows);
    await recordSnapshotProgress(dest, config.slot, table.schema, table.name, rows, false);
    lc.info({ table: label, rows, seconds: (Date.now() - tableStarted) / 1000 }, 'table copied');
  });

  await runDdl(config.destinationUrl, [
    ddl.postData,
    ...tables.map((t) => `ALTER TABLE ${qualified(config.targetSchema, t.name)} ALTER COLUMN _lsn DROP DEFAULT`),
    ...tables.map((t) => `ANALYZE ${qualified(config.targetSchema, t.name)}`),
  ]);
  for (const t of tables) await recordSnapshotProgress(dest, config.slot, t.schema, t.name, copied.get(t) ?? 0, true);
  // Which source table (OID) and columns (attnums) each replica table holds, as the snapshot saw them.
  const copiedTables = tables.map((t) => ({ schema: t.schema, table: t.name }));
  for (const identity of await readIdentitiesAtSnapshot(config.sourceUrl, snapshot.snapshotName, copiedTables)) await recordReplicaColumns(dest, config.slot, identity);
  await finishSnapshotState(dest, config.slot, snapshot.consistentPoint);
  const totalRows = [...copied.values()].reduce((a, b) => a + b, 0);
  lc.info({ lsn, rows: totalRows, seconds: (Date.now() - started) / 1000 }, 'snapshot complete; streaming from its consistent point');
  return snapshot.consistentPoint;
}

/** Run DDL on a connection of its own: pg_dump's output changes session settings (search_path). */
async function runDdl(url: string, statements: string[]): Promise<void> {
  const db = await connectDestination(url, 'elt-snapshot-ddl');
  try {
    await db.query('BEGIN');
    for (const statement of statements) await db.query(statement);
    await db.query('COMMIT');
  } finally {
    await db.end();
  }
}

/** Run `work` over items, at most `jobs` at a time, in the given order; the first failure rejects. */
async function forEachParallel<T>(items: T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
}
