/**
 * Runs resync jobs from the queue in elt.resync_jobs, one at a time, while the stream
 * keeps applying. Woken by NOTIFY elt_resync (the API sends it) and, as a fallback, by a
 * poll. A job interrupted by a restart starts over.
 *
 * When a job starts, each of its tables' rows are estimated (progress/table-estimate.ts),
 * so the job's total is known before its first table is copied; a table copied replaces
 * its estimate with the rows it copied, so the job's figures add up over its tables.
 */
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { connectDestination } from '../source/source-db.js';
import { tableFailureReason } from '../failures.js';
import { RESYNC_CHANNEL } from '../state/control.js';
import type { ApplyHooks } from '../apply/apply-hooks.js';
import {
  cancelRequested,
  claimNextJob,
  finishJob,
  claimJobTable,
  jobTables,
  type JobTable,
  requeueInterruptedJobs,
  setTableState,
  updateJobTable,
} from '../state/resync-jobs.js';
import { ResyncCancelled, resyncTable } from './table-resync.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { estimateTable, type TableEstimate } from '../progress/table-estimate.js';
import { readTableState } from '../state/control.js';
import { TableSelection } from '../source/selection.js';

const POLL_INTERVAL_MS = 5_000;

export async function runResyncJobs(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  progress: ProgressReporter,
  hooks: ApplyHooks,
  source: pg.Client,
  signal: AbortSignal,
): Promise<void> {
  const db = await connectDestination(config.destinationUrl, 'elt-resync-queue');
  let wake: (() => void) | null = null;
  const wakeUp = () => wake?.();
  db.on('notification', wakeUp);
  signal.addEventListener('abort', wakeUp);
  try {
    await db.query(`LISTEN ${RESYNC_CHANNEL}`);
    const requeued = await requeueInterruptedJobs(db, config.slot);
    if (requeued > 0) lc.warn({ jobs: requeued }, 'resync jobs interrupted by a restart start over');
    while (!signal.aborted) {
      const jobId = await claimNextJob(db, config.slot);
      if (jobId === null) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, POLL_INTERVAL_MS);
        });
        wake = null;
        continue;
      }
      await runJob(lc, config, metrics, progress, hooks, source, db, jobId, signal);
    }
  } finally {
    signal.removeEventListener('abort', wakeUp);
    await db.end().catch(() => undefined); // closing: nothing is lost if it fails
  }
}

async function runJob(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  progress: ProgressReporter,
  hooks: ApplyHooks,
  source: pg.Client,
  db: pg.Client,
  jobId: number,
  signal: AbortSignal,
): Promise<void> {
  const tables = await jobTables(db, jobId);
  lc.info({ job: jobId, tables: tables.map((t) => `${t.schema}.${t.table}`) }, 'resync job started');
  const estimates = await estimateJobTables(db, source, jobId, tables);
  const selection = new TableSelection(config.includeTables, config.excludeTables);
  // The job's tables are read again before each one: the stream may rename a queued table (a
  // source rename it follows), and a table is copied under the name it has when it is claimed.
  for (;;) {
    const t = (await jobTables(db, jobId)).find((j) => j.state === 'queued');
    if (!t) break;
    if (signal.aborted) return;
    const label = `${t.schema}.${t.table}`;
    // A table the selection leaves out is never copied, whoever asked (a job queued before a restart that changed it).
    const decision = selection.decide(t.schema, t.table);
    if (!decision.selected) {
      await updateJobTable(db, jobId, t, { state: 'cancelled', error: decision.reason });
      lc.warn({ job: jobId, table: label, reason: decision.reason }, 'resync: an unselected table is not copied');
      continue;
    }
    if (await cancelRequested(db, jobId)) {
      await finishJob(db, jobId, 'cancelled');
      metrics.resyncJobs.inc({ outcome: 'cancelled' });
      lc.info({ job: jobId }, 'resync job cancelled');
      return;
    }
    if (!(await claimJobTable(db, jobId, t))) continue;
    const estimate = estimates.get(label) ?? { rows: 0, bytes: 0 };
    metrics.resyncRowsEstimated.set({ table: label }, estimate.rows);
    // A table left "resyncing" by a crash streams (its copy was swapped in, or never started).
    const recordedState = await readTableState(db, config.slot, t.schema, t.table);
    const previousState = recordedState === null || recordedState === 'resyncing' ? 'streaming' : recordedState;
    // A repair of some keys leaves the table streaming (its changes apply and are held aside too);
    // a table copied whole is resyncing, and a restart keeps its changes for the copy (stopped-tables.ts).
    if (!t.keys) await setTableState(db, config.slot, t, 'resyncing');
    const shown = progress.table('resync', label, estimate);
    try {
      const rows = await resyncTable({
        lc,
        config,
        metrics,
        hooks,
        source,
        jobId,
        schema: t.schema,
        table: t.table,
        keys: t.keys,
        onProgress: async (rowsCopied) => {
          metrics.resyncRows.set({ table: label }, rowsCopied);
          await updateJobTable(db, jobId, t, { rowsCopied });
        },
        onCount: (rowsCopied, bytesCopied) => shown.update(rowsCopied, bytesCopied),
        cancelled: () => cancelRequested(db, jobId),
      });
      // The swap's transaction recorded the table streaming and its job table succeeded.
      lc.debug({ job: jobId, table: label, rows }, 'resync: table done');
    } catch (error) {
      // The table is as it was before the resync: so is its state (an error stays an error, and
      // a table the stream stopped meanwhile is stopped).
      const restored = hooks.stopped.has(t.schema, t.table) ? 'error' : previousState;
      await setTableState(
        db,
        config.slot,
        t,
        restored,
        error instanceof ResyncCancelled || signal.aborted ? null : `resync failed: ${tableFailureReason(error)}`,
      );
      if (error instanceof ResyncCancelled) {
        await finishJob(db, jobId, 'cancelled');
        metrics.resyncJobs.inc({ outcome: 'cancelled' });
        lc.info({ job: jobId, table: label }, 'resync job cancelled');
        return;
      }
      if (signal.aborted) return;
      // The reason with what to do (a TableFailure's hint too), as the table's own last error says.
      const message = tableFailureReason(error);
      await updateJobTable(db, jobId, t, { state: 'failed', error: message });
      await finishJob(db, jobId, 'failed', `${label}: ${message}`);
      metrics.resyncJobs.inc({ outcome: 'failed' });
      lc.error(
        { job: jobId, table: label, state: restored, err: error },
        `resync job failed; the table is ${restored} as before`,
      );
      return;
    } finally {
      shown.end();
    }
  }
  await finishJob(db, jobId, 'succeeded');
  metrics.resyncJobs.inc({ outcome: 'succeeded' });
  lc.info({ job: jobId }, 'resync job succeeded');
}

/** Estimate every table the job still has to copy and record the estimates; by `schema.table`. */
async function estimateJobTables(
  db: pg.Client,
  source: pg.Client,
  jobId: number,
  tables: JobTable[],
): Promise<Map<string, TableEstimate>> {
  const estimates = new Map<string, TableEstimate>();
  for (const t of tables) {
    if (t.state !== 'queued') continue;
    // A repair copies its keys' rows (about one each), not the table.
    const estimate = t.keys ? { rows: t.keys.values.length, bytes: 0 } : await estimateTable(source, t.schema, t.table);
    estimates.set(`${t.schema}.${t.table}`, estimate);
    await updateJobTable(db, jobId, t, { rowsEstimated: estimate.rows });
  }
  return estimates;
}
