/**
 * Scenario 1, snapshot: the same source database copied four ways, one after the other,
 * each after a CHECKPOINT on every cluster and each checked against the source:
 *
 *   pg_dump | psql                      the baseline (ratio 1.0)
 *   pg_dump -Fd -j N | pg_restore -j N
 *   elt replicate                       spawn until elt.replication_state.phase = 'streaming'
 *   native subscription                 schema-only dump + CREATE SUBSCRIPTION (copy_data)
 *                                       until every table is 'r' (ready)
 *
 * The reference copies are dropped after their check; our replicator and the subscription
 * stay and are the consumers of the following scenarios.
 */
import { checkpointAll } from '../clusters.js';
import type { BenchContext, DatasetRun, SnapshotRow, System } from '../context.js';
import type { Dataset } from '../datasets.js';
import { Heartbeat, HeartbeatReader } from '../heartbeat.js';
import { reportedSnapshotSeconds, startOurs, waitSnapshotDone, type OursOptions } from '../ours.js';
import {
  createSubscription,
  dropDatabase,
  dumpPipePsql,
  dumpRestoreParallel,
  prepareSubscriber,
  type NativeSubscription,
} from '../reference.js';
import { verifyCopy } from '../verify.js';

const MB = 1024 * 1024;
const SNAPSHOT_TIMEOUT_MS = 30 * 60_000;

export async function runSnapshot(
  ctx: BenchContext,
  dataset: Dataset,
  withReferences: boolean,
): Promise<{ rows: SnapshotRow[]; run: DatasetRun }> {
  const { elt, native } = ctx.clusters;
  const rows: SnapshotRow[] = [];
  const row = (
    system: System,
    method: string,
    seconds: number,
    check: SnapshotRow['check'],
    note?: string,
  ): SnapshotRow => {
    const r: SnapshotRow = {
      dataset: dataset.name,
      method,
      system,
      seconds,
      mbPerSecond: dataset.bytes / MB / seconds,
      rowsPerSecond: dataset.rows / seconds,
      speedVsDumpPsql: null,
      check,
      ...(note ? { note } : {}),
    };
    rows.push(r);
    ctx.log(`  ${method}: ${seconds.toFixed(2)} s, check ${check.detail}`);
    return r;
  };

  if (withReferences) {
    await checkpointAll(ctx.clusters);
    const plainDb = `dump_${dataset.db}`;
    const plain = await dumpPipePsql(dataset.sourceUrl, elt, plainDb);
    row('pg_dump | psql', 'pg_dump | psql', plain, await verifyCopy(dataset.sourceUrl, elt.url(plainDb), 'public'));
    await dropDatabase(elt, plainDb);

    await checkpointAll(ctx.clusters);
    const dirDb = `restore_${dataset.db}`;
    const jobs = ctx.options.jobs;
    const parallel = await dumpRestoreParallel(dataset.sourceUrl, elt, dirDb, jobs);
    row(
      'pg_dump -Fd | pg_restore',
      `pg_dump -Fd -Z0 -j ${jobs} + pg_restore -j ${jobs}`,
      parallel,
      await verifyCopy(dataset.sourceUrl, elt.url(dirDb), 'public'),
    );
    await dropDatabase(elt, dirDb);
  }

  await checkpointAll(ctx.clusters);
  const oursDb = `elt_${dataset.db}`;
  await elt.psql(`CREATE DATABASE ${oursDb}`);
  const slot = `elt_${dataset.db}`;
  const oursOptions: OursOptions = {
    dataset,
    destinationUrl: elt.url(oursDb),
    slot,
    snapshotJobs: ctx.options.jobs,
    profileDir: ctx.options.profileDir,
    eltBin: ctx.options.eltBin,
    logDir: ctx.logDir,
  };
  const ours = startOurs(oursOptions);
  const done = await waitSnapshotDone(ours, SNAPSHOT_TIMEOUT_MS);
  const oursSeconds = (done - ours.startedAt) / 1000;
  const reported = reportedSnapshotSeconds(ours);
  row(
    'elt',
    `elt replicate (snapshot, ${ctx.options.jobs} jobs)`,
    oursSeconds,
    await verifyCopy(dataset.sourceUrl, elt.url(oursDb), 'staging'),
    `process start to phase 'streaming'${reported !== null ? `; the replicator reports ${reported.toFixed(2)} s from slot creation to snapshot complete` : ''}`,
  );

  await checkpointAll(ctx.clusters);
  const started = performance.now();
  const sub: NativeSubscription = {
    name: `native_${dataset.db}`,
    destinationUrl: await prepareSubscriber(dataset.sourceUrl, native, `native_${dataset.db}`),
    sourceUrl: dataset.sourceUrl,
  };
  await createSubscription(sub, SNAPSHOT_TIMEOUT_MS);
  const nativeSeconds = (performance.now() - started) / 1000;
  row(
    'native',
    'native subscription (copy_data)',
    nativeSeconds,
    await verifyCopy(dataset.sourceUrl, sub.destinationUrl, 'public'),
    'schema-only dump + CREATE SUBSCRIPTION until every table is ready',
  );

  const baseline = rows.find((r) => r.system === 'pg_dump | psql');
  if (baseline) for (const r of rows) r.speedVsDumpPsql = baseline.seconds / r.seconds;

  const run: DatasetRun = {
    dataset,
    slot,
    oursUrl: elt.url(oursDb),
    oursOptions,
    ours,
    native: sub,
    heartbeat: await Heartbeat.open(dataset.sourceUrl),
    oursReader: await HeartbeatReader.open('elt', elt.url(oursDb), 'staging'),
    nativeReader: await HeartbeatReader.open('native', sub.destinationUrl, 'public'),
  };
  return { rows, run };
}
