/**
 * `npx tsx bench/run.ts [--quick] [--scale S]`: our replicator beside native logical
 * replication and pg_dump | psql, in one run, on fresh clusters it starts and removes.
 *
 * Per dataset (demo shop first, then pgbench, so the demo's consumers are gone before the
 * pgbench load): snapshot, steady streaming; for pgbench also backlog drain and one big
 * transaction. Prints a markdown table and writes bench/results/<date>[-quick].json/.md.
 * Exits 1 when a scenario failed or left a wrong copy.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../harness/replication.js';
import { destroyClusters, startClusters, type Clusters } from './clusters.js';
import type { BenchContext, BenchResults, DatasetRun } from './context.js';
import { loadDemo, loadPgbench, type Dataset } from './datasets.js';
import { stopOurs } from './ours.js';
import { parseOptions } from './options.js';
import { killAll } from './proc.js';
import { dropSubscription } from './reference.js';
import { renderMarkdown, writeResults } from './report.js';
import { runBacklog } from './scenarios/backlog.js';
import { runBigTransaction } from './scenarios/big-transaction.js';
import { runSnapshot } from './scenarios/snapshot.js';
import { runSteady } from './scenarios/steady.js';
import { runVerification } from './scenarios/verification.js';
import { dropSlotIfExists } from './slots.js';

const options = parseOptions(process.argv.slice(2));
const began = Date.now();
const log = (message: string) =>
  process.stdout.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

const results: BenchResults = {
  startedAt: new Date(began).toISOString(),
  finishedAt: '',
  command: `npx tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
  machine: {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    postgres: '',
    node: process.versions.node,
  },
  options: { ...options, only: [...options.only] },
  datasets: [],
  snapshot: [],
  steady: [],
  backlog: [],
  bigTransaction: [],
  verify: [],
  errors: [],
};

let clusters: Clusters | null = null;
const runs: DatasetRun[] = [];

/** Run one scenario; a failure is recorded (and printed) and the run goes on. */
async function scenario<T>(name: string, work: () => Promise<T>): Promise<T | null> {
  log(`${name} ...`);
  const started = Date.now();
  try {
    const value = await work();
    log(`${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return value;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    results.errors.push({ scenario: name, message });
    log(`${name} FAILED: ${message}`);
    return null;
  }
}

/** Stop a dataset's consumers and drop their slots, so idle walsenders do not decode the next load. */
async function teardown(run: DatasetRun): Promise<void> {
  if (run.ours) await stopOurs(run.ours).catch((error: Error) => log(`stopping the replicator: ${error.message}`));
  run.ours = null;
  await dropSubscription(run.native).catch((error: Error) => log(`dropping ${run.native.name}: ${error.message}`));
  await dropSlotIfExists(run.dataset.sourceUrl, run.slot).catch(() => undefined);
  await Promise.allSettled([run.heartbeat.close(), run.oursReader.close(), run.nativeReader.close()]);
}

let cleaning: Promise<void> | null = null;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const run of runs)
      await Promise.allSettled([run.heartbeat.close(), run.oursReader.close(), run.nativeReader.close()]);
    await killAll();
    if (clusters) await destroyClusters(clusters);
  })();
  return cleaning;
}

process.once('SIGINT', () => {
  log('interrupted: stopping processes and removing clusters');
  void cleanUp().finally(() => process.exit(130));
});

async function main(): Promise<number> {
  const logDir = await mkdtemp(join(tmpdir(), 'elt-bench-'));
  if (options.profileDir) {
    options.profileDir = resolve(options.profileDir);
    await mkdir(options.profileDir, { recursive: true });
  }
  log(
    `elt bench (${options.quick ? 'quick' : 'full'}): scale ${options.scale}, ${options.steadySeconds} s of load, backlog ${options.backlogChanges} changes; logs in ${logDir}`,
  );
  try {
    clusters = await startClusters();
    const ctx: BenchContext = { options, clusters, logDir, log };
    results.machine.postgres = `PostgreSQL ${await clusters.source.psql('SHOW server_version')}`;
    // The demo is only snapshotted and streamed; the other scenarios run on pgbench.
    const wantDemo = options.datasets.includes('demo') && (options.only.has('snapshot') || options.only.has('steady'));
    const wantPgbench = options.datasets.includes('pgbench');
    const names = [wantDemo && 'demo', wantPgbench && 'pgbench'].filter(Boolean).join(' and ');
    log(`loading datasets (${names}, scale ${options.scale}) ...`);
    const source = clusters.source;
    const [demo, pgbench] = await Promise.all([
      wantDemo ? loadDemo(source, options.scale) : null,
      wantPgbench ? loadPgbench(source, options.scale) : null,
    ]);
    const datasets = [demo, pgbench].filter((d): d is Dataset => d !== null);
    results.datasets = datasets;
    for (const d of datasets) log(`  ${d.name}: ${d.rows} rows, ${(d.bytes / 1024 / 1024).toFixed(0)} MB`);

    for (const dataset of datasets) {
      const snapshot = await scenario(`snapshot ${dataset.name}`, () =>
        runSnapshot(ctx, dataset, options.only.has('snapshot')),
      );
      if (!snapshot) continue;
      if (options.only.has('snapshot')) results.snapshot.push(...snapshot.rows);
      const run = snapshot.run;
      runs.push(run);
      if (options.only.has('steady')) {
        const rows = await scenario(`steady ${dataset.name}`, () =>
          runSteady(ctx, run, dataset.name === 'pgbench' ? 'pgbench' : 'demo'),
        );
        if (rows) results.steady.push(...rows);
      }
      if (dataset.name === 'pgbench' && options.only.has('backlog')) {
        const rows = await scenario('backlog drain', () => runBacklog(ctx, run));
        if (rows) results.backlog.push(...rows);
      }
      if (dataset.name === 'pgbench' && options.only.has('verify')) {
        const rows = await scenario('verification', () => runVerification(ctx, run));
        if (rows) results.verify.push(...rows);
      }
      if (dataset.name === 'pgbench' && options.only.has('bigtx')) {
        const rows = await scenario('big transaction', () => runBigTransaction(ctx, run));
        if (rows) results.bigTransaction.push(...rows);
      }
      await teardown(run);
    }
  } catch (error) {
    results.errors.push({
      scenario: 'setup',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    log('cleaning up ...');
    await cleanUp();
  }
  results.finishedAt = new Date().toISOString();
  const markdown = renderMarkdown(results);
  process.stdout.write('\n' + markdown);
  const files = await writeResults(results, markdown, resolve(REPO_ROOT, options.resultsDir));
  log(`wrote ${files.join(', ')} (total ${((Date.now() - began) / 1000).toFixed(0)} s)`);
  const failedChecks = [
    ...results.snapshot,
    ...results.steady,
    ...results.backlog,
    ...results.bigTransaction,
    ...results.verify,
  ].filter((r) => !r.check.ok);
  return results.errors.length > 0 || failedChecks.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    void cleanUp().finally(() => process.exit(1));
  },
);
