/**
 * Scenario 3, backlog drain: both consumers stopped (our replicator by SIGTERM, the
 * subscription by ALTER SUBSCRIPTION DISABLE) while pgbench writes about N row changes,
 * then each started alone, one after the other, so each has the machine to itself:
 * seconds from its slot becoming active until its destination shows the heartbeat written
 * after the load. Ends with the copy check on both destinations.
 */
import { checkpointAll } from '../clusters.js';
import type { BacklogRow, BenchContext, DatasetRun } from '../context.js';
import { startOurs, stopOurs } from '../ours.js';
import { CHANGES_PER_TRANSACTION, runPgbench } from '../pgbench.js';
import { setSubscriptionEnabled } from '../reference.js';
import { waitSlotActive } from '../slots.js';
import { verifyCopy } from '../verify.js';

export async function runBacklog(ctx: BenchContext, run: DatasetRun): Promise<BacklogRow[]> {
  if (!run.ours) throw new Error('the replicator is not running');
  await stopOurs(run.ours);
  run.ours = null;
  await setSubscriptionEnabled(run.native, false);

  const clients = ctx.options.clients;
  const perClient = Math.ceil(ctx.options.backlogChanges / CHANGES_PER_TRANSACTION / clients);
  const load = await runPgbench(run.dataset.sourceUrl, { clients, transactionsPerClient: perClient });
  const marker = await run.heartbeat.mark();
  const changes = load.transactions * CHANGES_PER_TRANSACTION;
  ctx.log(`  backlog: ${changes} changes written in ${load.seconds.toFixed(1)} s (${load.tps.toFixed(0)} tps)`);
  await checkpointAll(ctx.clusters);

  const ours = startOurs(run.oursOptions);
  run.ours = ours;
  const oursActive = await waitSlotActive(run.dataset.sourceUrl, run.slot, true);
  const oursDone = await run.oursReader.waitFor(marker, ctx.options.applyTimeoutSeconds * 1000, () => ours.alive());

  await checkpointAll(ctx.clusters);
  const enabledAt = Date.now();
  await setSubscriptionEnabled(run.native, true);
  const nativeActive = await waitSlotActive(run.dataset.sourceUrl, run.native.name, true);
  const nativeDone = await run.nativeReader.waitFor(marker, ctx.options.applyTimeoutSeconds * 1000);

  const row = (
    system: 'elt' | 'native',
    startedAt: number,
    activeAt: number,
    doneAt: number,
    check: BacklogRow['check'],
  ): BacklogRow => {
    const seconds = Math.max(0.001, (doneAt - activeAt) / 1000);
    return {
      system,
      changes,
      seconds,
      changesPerSecond: changes / seconds,
      startupSeconds: (activeAt - startedAt) / 1000,
      speedVsNative: null,
      check,
    };
  };
  const rows = [
    row('elt', ours.startedAt, oursActive, oursDone, await verifyCopy(run.dataset.sourceUrl, run.oursUrl, 'staging')),
    row(
      'native',
      enabledAt,
      nativeActive,
      nativeDone,
      await verifyCopy(run.dataset.sourceUrl, run.native.destinationUrl, 'public'),
    ),
  ];
  const native = rows[1]!;
  for (const r of rows) r.speedVsNative = r.changesPerSecond / native.changesPerSecond;
  for (const r of rows)
    ctx.log(
      `  ${r.system}: ${r.seconds.toFixed(2)} s, ${r.changesPerSecond.toFixed(0)} changes/s (startup ${r.startupSeconds.toFixed(2)} s), check ${r.check.detail}`,
    );
  return rows;
}
