/**
 * "Never loses a row", shown by killing it: the demo shop under a live workload, and the
 * replicator killed with SIGKILL again and again at random moments, in each of the places
 * where a crash hurts most:
 *
 *   snapshot           while pg_dump | COPY fills the replica (the first start, and full
 *                      resyncs forced by dropping the slot while the replicator is down)
 *   streaming          at a random moment while it follows the workload
 *   large transaction  while a 150,000-row UPDATE is being applied in chunks
 *   resync             while an online resync copies a table beside the stream
 *
 * After every kill the replicator is started again while the workload still runs. Its
 * catch-up time is measured (restart → everything the source had committed at the restart
 * applied); then the workload pauses and the replica must equal the source table by table
 * (counts and checksums, so a lost or a duplicated row shows, including in `events`, which
 * has no key). The number of kills and the worst catch-up are recorded as figures.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../harness/fixture.js';
import {
  caughtUpTo,
  expectReplicaEqual,
  outputTail,
  query,
  StopWaiting,
  waitFor,
  waitForCatchUp,
  walInsertLsn,
  type ReplicatorProcess,
} from '../harness/replication.js';
import { initDemoSource } from '../source_db_init/init.js';
import { createRng, type Rng } from '../source_db_init/prng.js';
import { startWorkload, type Workload } from '../source_db_init/workload.js';
import { recordFigure } from './figures.js';

type KillKind = 'snapshot' | 'streaming' | 'large transaction' | 'resync';

/** At least 25 kills in all, every kind several times. */
const PLAN: Record<KillKind, number> = { snapshot: 4, streaming: 15, 'large transaction': 4, resync: 4 };
const LEDGER_ROWS = 150_000;
/**
 * A budget, not a measure: the kills, each with a catch-up and a comparison, take a few minutes
 * on an idle machine and close to 20 on a loaded 2-core one.
 */
const TEST_TIMEOUT_MS = 2_400_000;
const SLOT = 'elt_slot';
const STREAMING = '"msg":"streaming changes"';

interface Kill {
  kind: KillKind;
  /** The replicator's phase when it was killed, from elt.replication_state. */
  phase: string;
  catchUpMs: number;
}

describe('kill -9, again and again, under the demo workload', () => {
  const pair = replicationSuite({ start: false });
  let env: Record<string, string>;
  let workload: Workload | null = null;
  let replicator: ReplicatorProcess | null = null;
  let rng: Rng;
  let workloadSeed = 100;
  let workloadTransactions = 0;
  /** The resync jobs a kill interrupted: each must still succeed. */
  const resyncJobs: string[] = [];

  beforeAll(async () => {
    await initDemoSource(pair.sourceUrl, { scale: 0.2, replicatorPassword: 'demo-secret' });
    // A table big enough that one UPDATE of it, or a resync of it, takes a while to apply.
    await query(
      pair.sourceUrl,
      `CREATE TABLE public.ledger (id int PRIMARY KEY, n bigint NOT NULL, note text);
       INSERT INTO public.ledger SELECT i, 0, md5(i::text) FROM generate_series(1, ${LEDGER_ROWS}) i;
       GRANT SELECT ON public.ledger TO elt_replicator;`,
    );
    // The least-privilege role from roles.sql, with the publication it created.
    const url = new URL(pair.sourceUrl);
    url.username = 'elt_replicator';
    url.password = 'demo-secret';
    env = { ELT_SOURCE_URL: url.toString(), ELT_BATCH_MAX_MS: '100' };
    rng = createRng(2026);
  });

  afterAll(async () => {
    await workload?.stop();
    await replicator?.kill('SIGKILL');
  });

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const randomMs = (min: number, max: number) => min + Math.floor(rng.next() * (max - min));

  async function phase(): Promise<string> {
    const rows = await query<{ phase: string }>(
      pair.destinationUrl,
      'SELECT phase FROM elt.replication_state WHERE slot_name = $1',
      [SLOT],
    ).catch(() => []);
    return rows[0]?.phase ?? 'none';
  }

  /** Everything up to `lsn` is applied, as both ends say (the harness's one definition of caught up). */
  /** What both ends said at the last catch-up check, for a timeout's message. */
  let lastCatchUp = '';
  async function applied(lsn: string): Promise<boolean> {
    const state = await caughtUpTo(pair.sourceUrl, pair.destinationUrl, SLOT, lsn);
    lastCatchUp = state.state;
    return state.ok;
  }

  function resumeWorkload(): void {
    workload = startWorkload({ url: pair.sourceUrl, ratePerSecond: 60, seed: workloadSeed++ });
  }

  async function pauseWorkload(): Promise<void> {
    const stats = await workload!.stop();
    workload = null;
    expect(stats.errors).toBe(0);
    workloadTransactions += stats.transactions;
  }

  function start(): ReplicatorProcess {
    replicator = pair.spawn(['replicate'], env);
    return replicator;
  }

  async function waitUntilStreaming(process: ReplicatorProcess): Promise<void> {
    await waitFor(
      'the replicator to stream',
      async () => {
        if (process.child.exitCode !== null) throw new StopWaiting(`elt exited: ${process.output()}`);
        return process.output().includes(STREAMING);
      },
      180_000,
    );
  }

  async function killNow(): Promise<string> {
    const at = await phase();
    expect(replicator!.child.exitCode, replicator!.output()).toBeNull();
    await replicator!.kill('SIGKILL');
    return at;
  }

  /** Wait for `condition` while checking that the replicator is still alive. */
  async function during(what: string, condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      what,
      async () => {
        if (replicator!.child.exitCode !== null) throw new StopWaiting(`elt exited: ${replicator!.output()}`);
        return condition();
      },
      timeoutMs,
      20,
    ).catch(async (error: Error) => {
      const sessions = await query(
        pair.destinationUrl,
        "SELECT application_name, state, wait_event_type, wait_event, now() - xact_start AS in_tx, left(query, 120) AS query FROM pg_stat_activity WHERE application_name LIKE 'elt%'",
      ).catch((e: Error) => e.message);
      throw new Error(
        `${error.message}\n${lastCatchUp}\ndestination sessions: ${JSON.stringify(sessions)}\n${outputTail(replicator!)}`,
      );
    });
  }

  /** Start again under the workload, time the catch-up, then pause the workload and compare. */
  async function restartAndCheck(kind: KillKind, killedIn: string, kills: Kill[]): Promise<void> {
    const target = await walInsertLsn(pair.sourceUrl);
    const started = performance.now();
    const process = start();
    await during(`catch-up to ${target} after a kill during ${kind}`, () => applied(target), 180_000);
    const catchUpMs = Math.round(performance.now() - started);
    kills.push({ kind, phase: killedIn, catchUpMs });
    await waitUntilStreaming(process);
    await pauseWorkload();
    await waitForCatchUp(pair, process, { slot: SLOT });
    await expectReplicaEqual(pair, process, { what: `after kill ${kills.length} (${kind})` });
    resumeWorkload();
  }

  async function killDuringSnapshot(first: boolean): Promise<string> {
    if (!first) {
      // Force a full copy: with the replicator down, the slot disappears (as when it loses its WAL).
      await replicator!.kill('SIGKILL');
      await waitFor(
        'the slot to be released',
        async () =>
          (
            await query<{ active: boolean }>(
              pair.sourceUrl,
              'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
              [SLOT],
            )
          )[0]?.active === false,
      );
      await query(pair.sourceUrl, 'SELECT pg_drop_replication_slot($1)', [SLOT]);
      start();
    }
    await during(
      'the snapshot to start',
      async () =>
        (await phase()) === 'snapshotting' &&
        replicator!.output().includes('"msg":"created slot; copying the snapshot"'),
    );
    // Hold the snapshot's last step, the update of its state row once every table is in, so that
    // the kill lands inside the snapshot however fast the copy is: at a random moment of the
    // copy, or at its end before the state commits.
    const holder = new pg.Client({ connectionString: pair.destinationUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM elt.replication_state WHERE slot_name = $1 FOR UPDATE', [SLOT]);
      await sleep(randomMs(0, 1_500));
      return await killNow();
    } finally {
      await holder.end();
    }
  }

  async function killWhileStreaming(): Promise<string> {
    await sleep(randomMs(200, 2_500));
    return killNow();
  }

  async function killDuringLargeTransaction(): Promise<string> {
    const before = await walInsertLsn(pair.sourceUrl);
    await query(pair.sourceUrl, "UPDATE public.ledger SET n = n + 1, note = 'bulk ' || (n + 1)");
    const committed = await walInsertLsn(pair.sourceUrl);
    // Kill once the transaction is on its way in, at a random point before it is all applied.
    await during(
      'the large transaction to be on the wire',
      async () =>
        (
          await query<{ ok: boolean }>(pair.sourceUrl, 'SELECT sent_lsn > $1::pg_lsn AS ok FROM pg_stat_replication', [
            before,
          ])
        )[0]?.ok === true,
    );
    await sleep(randomMs(0, 800));
    expect(await applied(committed)).toBe(false);
    return killNow();
  }

  async function killDuringResync(): Promise<string> {
    const [job] = await query<{ id: string }>(
      pair.destinationUrl,
      `WITH job AS (INSERT INTO elt.resync_jobs (slot_name, requested_by) VALUES ($1, 'chaos') RETURNING id)
       INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table)
       SELECT id, $1, 'public', t FROM job, unnest(ARRAY['ledger', 'orders']) t RETURNING job_id AS id`,
      [SLOT],
    );
    await query(pair.destinationUrl, "SELECT pg_notify('elt_resync', $1)", [job!.id]);
    await during('the resync to copy', async () => {
      const rows = await query<{ copying: boolean }>(
        pair.destinationUrl,
        "SELECT bool_or(state = 'running') AS copying FROM elt.resync_job_tables WHERE job_id = $1",
        [job!.id],
      );
      return rows[0]?.copying === true;
    });
    await sleep(randomMs(0, 600));
    const [state] = await query<{ state: string }>(
      pair.destinationUrl,
      'SELECT state FROM elt.resync_jobs WHERE id = $1',
      [job!.id],
    );
    expect(state!.state).toBe('running');
    const killedIn = await killNow();
    resyncJobs.push(job!.id);
    return killedIn;
  }

  it(
    'converges after every one of at least 25 kill -9s, with nothing lost or doubled',
    async () => {
      const kills: Kill[] = [];
      resumeWorkload();

      // The first start is killed during its snapshot; later snapshots come from a dropped slot.
      start();
      await restartAndCheck('snapshot', await killDuringSnapshot(true), kills);
      const rest: KillKind[] = [];
      for (const [kind, count] of Object.entries(PLAN) as [KillKind, number][])
        for (let i = kind === 'snapshot' ? 1 : 0; i < count; i++) rest.push(kind);
      // Interleave the kinds in a seeded order.
      for (let i = rest.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [rest[i], rest[j]] = [rest[j]!, rest[i]!];
      }
      for (const kind of rest) {
        const killedIn =
          kind === 'snapshot'
            ? await killDuringSnapshot(false)
            : kind === 'streaming'
              ? await killWhileStreaming()
              : kind === 'large transaction'
                ? await killDuringLargeTransaction()
                : await killDuringResync();
        await restartAndCheck(kind, killedIn, kills);
      }

      // The killed resyncs were picked up again and finished.
      await during('the interrupted resync jobs to finish', async () => {
        const rows = await query<{ open: number }>(
          pair.destinationUrl,
          "SELECT count(*)::int AS open FROM elt.resync_jobs WHERE state IN ('queued', 'running')",
        );
        return rows[0]!.open === 0;
      });
      const jobs = await query<{ id: string; state: string }>(
        pair.destinationUrl,
        'SELECT id::text, state FROM elt.resync_jobs WHERE id = ANY($1::bigint[]) ORDER BY id',
        [resyncJobs],
      );
      expect(jobs.map((j) => j.state)).toEqual(resyncJobs.map(() => 'succeeded'));
      await pauseWorkload();
      await waitForCatchUp(pair, replicator!, { slot: SLOT });
      await expectReplicaEqual(pair, replicator!);

      // Each kill landed where it was meant to.
      const expectedPhase: Record<KillKind, string> = {
        snapshot: 'snapshotting',
        streaming: 'streaming',
        'large transaction': 'streaming',
        resync: 'streaming',
      };
      expect(kills.filter((k) => k.phase !== expectedPhase[k.kind])).toEqual([]);
      expect(kills.length).toBeGreaterThanOrEqual(25);

      const worst = kills.reduce((a, b) => (b.catchUpMs > a.catchUpMs ? b : a));
      const sorted = kills.map((k) => k.catchUpMs).sort((a, b) => a - b);
      for (const kind of Object.keys(PLAN) as KillKind[]) {
        const of = kills.filter((k) => k.kind === kind);
        recordFigure({
          fault: `kill -9 during ${kind}`,
          measure: 'kills, worst catch-up',
          value: `${of.length}, ${(Math.max(...of.map((k) => k.catchUpMs)) / 1000).toFixed(1)} s`,
        });
      }
      recordFigure({ fault: 'kill -9 (all)', measure: 'kills', value: kills.length });
      recordFigure({
        fault: 'kill -9 (all)',
        measure: 'median catch-up',
        value: (sorted[Math.floor(sorted.length / 2)]! / 1000).toFixed(1),
        unit: 's',
      });
      recordFigure({
        fault: 'kill -9 (all)',
        measure: 'worst catch-up',
        value: `${(worst.catchUpMs / 1000).toFixed(1)} s (during ${worst.kind})`,
      });
      recordFigure({
        fault: 'kill -9 (all)',
        measure: 'workload transactions committed meanwhile',
        value: workloadTransactions,
      });
      recordFigure({ fault: 'kill -9 (all)', measure: 'tables that differed after a restart', value: 0 });
    },
    TEST_TIMEOUT_MS,
  );
});
