/**
 * "Never loses a row": the demo shop under a live workload, the replicator killed with
 * SIGKILL at random moments (the first time during its snapshot), and the destination
 * server restarted under it. After each fault the replicator is simply started again;
 * at the end the replica must equal the source table by table (counts and checksums,
 * so a lost or duplicated row shows), including the table without a primary key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareReplica, query, startElt, startPair, waitFor, waitForCatchUp, type ClusterPair, type ReplicatorProcess } from '../../harness/replication.js';
import { initDemoSource } from '../../source_db_init/init.js';
import { startWorkload, type Workload } from '../../source_db_init/workload.js';
import { createRng } from '../../source_db_init/prng.js';

const KILLS = 6;

describe('crash consistency under the demo workload', () => {
  let pair: ClusterPair;
  let workload: Workload | null = null;
  let replicator: ReplicatorProcess | null = null;
  let env: Record<string, string>;

  beforeAll(async () => {
    pair = await startPair();
    await initDemoSource(pair.sourceUrl, { scale: 0.2, replicatorPassword: 'demo-secret' });
    // The least-privilege role from roles.sql, with the publication it created.
    const url = new URL(pair.sourceUrl);
    url.username = 'elt_replicator';
    url.password = 'demo-secret';
    env = { ELT_SOURCE_URL: url.toString(), ELT_DESTINATION_URL: pair.destinationUrl, ELT_BATCH_MAX_MS: '100' };
  });

  afterAll(async () => {
    await workload?.stop();
    await replicator?.kill('SIGKILL');
    await pair?.[Symbol.asyncDispose]();
  });

  it(`converges after ${KILLS} kill -9s and a destination restart, with nothing lost or doubled`, async () => {
    workload = startWorkload({ url: pair.sourceUrl, ratePerSecond: 60, seed: 7 });
    const rng = createRng(42);
    const phases: string[] = [];

    const phase = async () =>
      (await query<{ phase: string }>(pair.destinationUrl, "SELECT phase FROM elt.replication_state WHERE slot_name = 'elt_slot'").catch(() => []))[0]?.phase ?? 'none';
    for (let kill = 0; kill < KILLS; kill++) {
      replicator = startElt(['replicate'], env);
      if (kill === 0) {
        // The first kill lands during the initial snapshot.
        await waitFor('the snapshot to start', async () => (await phase()) === 'snapshotting', 60_000, 20);
      } else {
        // Later ones at a random moment while streaming.
        // This process streams (elt.replication_state may still say so from the one before).
        await waitFor('streaming', async () => replicator!.output().includes('"msg":"streaming changes"'), 120_000);
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(rng.next() * 2_500)));
      }
      phases.push(await phase());
      expect(replicator.child.exitCode, replicator.output()).toBeNull();
      await replicator.kill('SIGKILL');
    }
    expect(phases).toEqual(['snapshotting', ...Array(KILLS - 1).fill('streaming')]);

    replicator = startElt(['replicate'], env);
    await waitFor('streaming after the kills', async () => replicator!.output().includes('"msg":"streaming changes"'), 120_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    // The destination goes away under the running replicator and comes back.
    await pair.destination.restart();
    await new Promise((resolve) => setTimeout(resolve, 2_000));

    const stats = await workload.stop();
    workload = null;
    expect(stats.errors).toBe(0);
    expect(stats.transactions).toBeGreaterThan(100);
    await waitForCatchUp(pair.sourceUrl, pair.destinationUrl, 'elt_slot', 120_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${replicator?.output()}`);
    });
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    expect(replicator.child.exitCode).toBeNull();
  });
});
