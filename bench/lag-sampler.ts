/**
 * Samples each consumer's lag every SAMPLE_INTERVAL_MS while a load runs:
 *
 * - bytes: pg_current_wal_lsn() - confirmed_flush_lsn of its slot on the source (what the
 *   source must still keep for it; both consumers confirm only what they have committed,
 *   our replicator in the same destination transaction as the rows);
 * - seconds: from the heartbeat its destination shows (see heartbeat.ts).
 *
 * One sample reads the source and every destination at once, on kept-open connections.
 */
import pg from 'pg';
import type { Heartbeat, HeartbeatReader } from './heartbeat.js';
import { distribution, type Distribution } from './stats.js';

export const SAMPLE_INTERVAL_MS = 200;

export interface LagTarget {
  label: string;
  slot: string;
  reader: HeartbeatReader;
}

export interface LagSample {
  /** Date.now() when the sample was taken. */
  t: number;
  bytes: number;
  seconds: number;
}

export interface LagSummary {
  bytes: Distribution;
  seconds: Distribution;
}

export class LagSampler {
  readonly #samples = new Map<string, LagSample[]>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> = Promise.resolve();
  #errors = 0;

  private constructor(
    private readonly source: pg.Client,
    private readonly targets: LagTarget[],
    private readonly heartbeat: Heartbeat,
  ) {
    for (const target of targets) this.#samples.set(target.label, []);
  }

  static async start(sourceUrl: string, targets: LagTarget[], heartbeat: Heartbeat): Promise<LagSampler> {
    const source = new pg.Client({ connectionString: sourceUrl, application_name: 'elt-bench-lag' });
    source.on('error', () => undefined);
    await source.connect();
    const sampler = new LagSampler(source, targets, heartbeat);
    sampler.#timer = setInterval(() => {
      sampler.#running = sampler.#sample().catch(() => {
        sampler.#errors++;
      });
    }, SAMPLE_INTERVAL_MS);
    return sampler;
  }

  async #sample(): Promise<void> {
    const t = Date.now();
    const [slots, ...seqs] = await Promise.all([
      this.source.query<{ slot_name: string; lag: string | null }>(
        `SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = ANY($1)`,
        [this.targets.map((x) => x.slot)],
      ),
      ...this.targets.map((x) => x.reader.read()),
    ]);
    const bySlot = new Map(slots.rows.map((r) => [r.slot_name, Math.max(0, Number(r.lag ?? 0))]));
    this.targets.forEach((target, i) => {
      this.#samples
        .get(target.label)!
        .push({ t, bytes: bySlot.get(target.slot) ?? Number.NaN, seconds: this.heartbeat.lagSeconds(seqs[i]!, t) });
    });
  }

  /** Stop sampling; the source connection is closed. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
    await this.source.end().catch(() => undefined);
  }

  get errors(): number {
    return this.#errors;
  }

  /** Distribution of one target's samples taken in [from, to] (Date.now() ms). */
  summary(label: string, from: number, to: number): LagSummary {
    const window = (this.#samples.get(label) ?? []).filter((s) => s.t >= from && s.t <= to);
    return { bytes: distribution(window.map((s) => s.bytes)), seconds: distribution(window.map((s) => s.seconds)) };
  }
}
