/**
 * Scenario 4, big transaction: one UPDATE of every pgbench_accounts row (scale x 100 k),
 * committed together with a heartbeat, with one consumer attached at a time so each has
 * the machine to itself while the source decodes and sends it:
 *
 *   1. native disabled, our replicator caught up: its peak RSS is reset (clear_refs),
 *      then the UPDATE; seconds from COMMIT until the destination shows the heartbeat;
 *   2. our replicator stopped, the subscription enabled and caught up (it applies the
 *      first UPDATE, unmeasured), then a second UPDATE, measured the same way;
 *   3. our replicator restarted to catch up; the copy check on both destinations.
 *
 * Our replicator gets --apply-timeout seconds per transaction; past that its row is FAIL.
 */
import pg from 'pg';
import type { BenchContext, BigTransactionRow, DatasetRun } from '../context.js';
import { heartbeatSql } from '../heartbeat.js';
import { procMemory, resetPeakMemory } from '../proc.js';
import { startOurs, stopOurs, type Ours } from '../ours.js';
import { setSubscriptionEnabled } from '../reference.js';
import { waitSlotActive } from '../slots.js';
import { verifyCopy } from '../verify.js';

const APPLY_TIMEOUT_MS = 30 * 60_000;
const RSS_POLL_MS = 100;

interface BigUpdate {
  seq: number;
  rows: number;
  sourceSeconds: number;
  committedAt: number;
}

async function bigUpdate(run: DatasetRun): Promise<BigUpdate> {
  const client = new pg.Client({ connectionString: run.dataset.sourceUrl, application_name: 'elt-bench-bigtx' });
  await client.connect();
  try {
    const seq = run.heartbeat.reserve();
    const started = performance.now();
    await client.query('BEGIN');
    const result = await client.query('UPDATE pgbench_accounts SET abalance = abalance + 1');
    await client.query(heartbeatSql(seq));
    await client.query('COMMIT');
    const committedAt = Date.now();
    run.heartbeat.committed(seq, committedAt);
    return { seq, rows: result.rowCount ?? 0, sourceSeconds: (performance.now() - started) / 1000, committedAt };
  } finally {
    await client.end();
  }
}

/** Peak resident memory of a process from now on: VmHWM after clear_refs, else the highest VmRSS polled. */
async function watchPeakMemory(pid: number): Promise<() => Promise<number | null>> {
  const reset = await resetPeakMemory(pid);
  let maxRss = 0;
  const timer = setInterval(() => {
    void procMemory(pid, 'VmRSS').then((rss) => {
      if (rss !== null) maxRss = Math.max(maxRss, rss);
    });
  }, RSS_POLL_MS);
  return async () => {
    clearInterval(timer);
    const hwm = reset ? await procMemory(pid, 'VmHWM') : null;
    return hwm ?? (maxRss || null);
  };
}

export async function runBigTransaction(ctx: BenchContext, run: DatasetRun): Promise<BigTransactionRow[]> {
  if (!run.ours?.alive()) throw new Error('the replicator is not running');
  const ours: Ours = run.ours;
  await setSubscriptionEnabled(run.native, false);
  await run.oursReader.waitFor(await run.heartbeat.mark(), APPLY_TIMEOUT_MS, () => ours.alive());

  const limitMs = ctx.options.applyTimeoutSeconds * 1000;
  const peak = await watchPeakMemory(ours.pid);
  const first = await bigUpdate(run);
  ctx.log(`  UPDATE of ${first.rows} rows committed after ${first.sourceSeconds.toFixed(1)} s`);
  const oursApplied = await run.oursReader
    .waitFor(first.seq, limitMs, () => ours.alive())
    .catch((error: Error) => {
      ctx.log(`  elt: ${error.message}`);
      return null;
    });
  const peakRss = await peak();
  await stopOurs(ours);
  run.ours = null;

  await setSubscriptionEnabled(run.native, true);
  await run.nativeReader.waitFor(first.seq, APPLY_TIMEOUT_MS);
  const second = await bigUpdate(run);
  const nativeApplied = await run.nativeReader.waitFor(second.seq, APPLY_TIMEOUT_MS);

  const restarted = startOurs(run.oursOptions);
  run.ours = restarted;
  let note: string;
  let oursCheck: BigTransactionRow['check'];
  if (oursApplied === null) {
    // It could not apply one big transaction in time; a second one would not go faster.
    note = `did not apply the UPDATE within ${ctx.options.applyTimeoutSeconds} s (--apply-timeout)`;
    oursCheck = { ok: false, detail: note };
  } else {
    await waitSlotActive(run.dataset.sourceUrl, run.slot, true);
    const drainStarted = Date.now();
    await run.oursReader.waitFor(second.seq, limitMs, () => restarted.alive());
    const drainSeconds = (Date.now() - drainStarted) / 1000;
    note = `after a restart it drained the native run's UPDATE in ${drainSeconds.toFixed(1)} s, peak RSS ${mb(await procMemory(restarted.pid, 'VmHWM'))}`;
    oursCheck = await verifyCopy(run.dataset.sourceUrl, run.oursUrl, 'staging');
  }

  const oursSeconds = oursApplied === null ? Number.NaN : (oursApplied - first.committedAt) / 1000;
  const nativeSeconds = (nativeApplied - second.committedAt) / 1000;
  const rows: BigTransactionRow[] = [
    {
      system: 'elt',
      rows: first.rows,
      sourceSeconds: first.sourceSeconds,
      commitToAppliedSeconds: oursSeconds,
      timeVsNative: oursSeconds / nativeSeconds,
      peakRssBytes: peakRss,
      check: oursCheck,
      note,
    },
    {
      system: 'native',
      rows: second.rows,
      sourceSeconds: second.sourceSeconds,
      commitToAppliedSeconds: nativeSeconds,
      timeVsNative: 1,
      peakRssBytes: null,
      check: await verifyCopy(run.dataset.sourceUrl, run.native.destinationUrl, 'public'),
    },
  ];
  for (const r of rows) {
    ctx.log(
      `  ${r.system}: ${r.commitToAppliedSeconds.toFixed(2)} s commit-to-applied${r.peakRssBytes ? `, peak RSS ${mb(r.peakRssBytes)}` : ''}, check ${r.check.detail}`,
    );
  }
  return rows;
}

function mb(bytes: number | null): string {
  return bytes === null ? 'unknown' : `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}
