/**
 * Scenario 2, steady streaming: a load on the source for T seconds while our replicator
 * and the native subscription both follow it, sampled every 200 ms (lag-sampler.ts).
 * After the load one last heartbeat is written; "catch-up" is how long each destination
 * took to show it, and a consumer "kept up" when that took under KEPT_UP_SECONDS (it was
 * never more than a moment behind). Ends with the copy check on both destinations.
 */
import { startWorkload } from '../../source_db_init/workload.js';
import type { BenchContext, DatasetRun, SteadyRow, System } from '../context.js';
import { LagSampler } from '../lag-sampler.js';
import { runPgbench } from '../pgbench.js';
import { verifyCopy } from '../verify.js';

/** Lag right after the load ended below this: the consumer kept up with it. */
export const KEPT_UP_SECONDS = 2;
const WARM_UP_MS = 1_000;

export type SteadyLoad = 'pgbench' | 'demo';

export async function runSteady(ctx: BenchContext, run: DatasetRun, load: SteadyLoad): Promise<SteadyRow[]> {
  if (!run.ours?.alive()) throw new Error('the replicator is not running');
  const { heartbeat } = run;
  const sampler = await LagSampler.start(
    run.dataset.sourceUrl,
    [
      { label: 'elt', slot: run.slot, reader: run.oursReader },
      { label: 'native', slot: run.native.name, reader: run.nativeReader },
    ],
    heartbeat,
  );
  heartbeat.start();
  let loadStart: number;
  let loadEnd: number;
  let tps: number;
  let label: string;
  try {
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    const seconds = ctx.options.steadySeconds;
    loadStart = Date.now();
    if (load === 'pgbench') {
      const result = await runPgbench(run.dataset.sourceUrl, { clients: ctx.options.clients, seconds });
      tps = result.tps;
      label = `pgbench -c ${ctx.options.clients} -T ${seconds}`;
    } else {
      const workload = startWorkload({ url: run.dataset.sourceUrl, ratePerSecond: ctx.options.demoRate, seed: 1 });
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const stats = await workload.stop();
      if (stats.errors > 0) ctx.log(`  demo workload: ${stats.errors} failed transactions`);
      tps = stats.transactions / (stats.elapsedMs / 1000);
      label = `demo workload ${ctx.options.demoRate > 0 ? `${ctx.options.demoRate}/s` : 'flat out'} ${seconds} s`;
    }
    loadEnd = Date.now();
  } finally {
    await heartbeat.stop();
  }
  const final = await heartbeat.mark();
  const timeoutMs = Math.max(120_000, ctx.options.steadySeconds * 10_000);
  const [oursSeen, nativeSeen] = await Promise.all([
    run.oursReader.waitFor(final, timeoutMs, () => run.ours?.alive() ?? false),
    run.nativeReader.waitFor(final, timeoutMs),
  ]).finally(() => sampler.stop());

  const rows: SteadyRow[] = [];
  const systems: [System, number, string, string][] = [
    ['elt', oursSeen, run.oursUrl, 'staging'],
    ['native', nativeSeen, run.native.destinationUrl, 'public'],
  ];
  for (const [system, seenAt, url, schema] of systems) {
    const lag = sampler.summary(system, loadStart, loadEnd);
    const catchUpSeconds = Math.max(0, (seenAt - loadEnd) / 1000);
    const check = await verifyCopy(run.dataset.sourceUrl, url, schema);
    rows.push({
      load: label,
      system,
      tps,
      lagBytes: lag.bytes,
      lagSeconds: lag.seconds,
      catchUpSeconds,
      keptUp: catchUpSeconds < KEPT_UP_SECONDS,
      check,
    });
    ctx.log(
      `  ${system}: ${tps.toFixed(0)} tps, lag p50/p99/max ${lag.seconds.p50.toFixed(2)}/${lag.seconds.p99.toFixed(2)}/${lag.seconds.max.toFixed(2)} s, ` +
        `${(lag.bytes.p99 / 1024).toFixed(0)} kB p99, catch-up ${catchUpSeconds.toFixed(2)} s, check ${check.detail}`,
    );
  }
  return rows;
}
