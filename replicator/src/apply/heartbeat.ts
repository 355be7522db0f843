/**
 * What the apply loop tells the world every few seconds, on its control connection (never in
 * the apply transaction): lag and slot metrics, the table states, the heartbeat row in
 * elt.replication_state and the caught-up position; then any extra check the caller adds
 * (the partition watch).
 */
import { readColumnPolicies } from '../state/column-policies.js';
import type pg from 'pg';
import type { Logger } from '../log.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { Metrics } from '../metrics.js';
import { inspectSlot } from '../source/slot.js';
import { readTableRows, recordCaughtUp, recordHeartbeat } from '../state/control.js';

const HEARTBEAT_INTERVAL_MS = 5_000;
/** A position reached without a commit of ours is recorded at most this often (and at each heartbeat). */
const CAUGHT_UP_RECORD_INTERVAL_MS = 1_000;

/**
 * Records in elt.replication_state a position the stream reached without a commit of ours
 * (keepalives, transactions with nothing to apply), so the destination says it is caught up.
 */
export class CaughtUpRecorder {
  #recorded: Lsn;
  #recordedAt = 0;
  /** The newest position asked for; a deferred record writes it. */
  #latest: Lsn;
  #deferred: NodeJS.Timeout | null = null;

  constructor(
    private readonly lc: Logger,
    private readonly control: pg.Client,
    private readonly slot: string,
    start: Lsn,
  ) {
    this.#recorded = start;
    this.#latest = start;
  }

  /**
   * Record `lsn` now (`now`), or at most once a second: a position asked for sooner is written
   * when the second is over, not lost until the next heartbeat (a reader waiting for it, such as
   * elt verify, sees it within the second).
   */
  async record(lsn: Lsn, now = false): Promise<void> {
    if (lsn > this.#latest) this.#latest = lsn;
    if (lsn <= this.#recorded) return;
    const wait = CAUGHT_UP_RECORD_INTERVAL_MS - (Date.now() - this.#recordedAt);
    if (!now && wait > 0) {
      this.#deferred ??= setTimeout(() => {
        this.#deferred = null;
        void this.record(this.#latest, true);
      }, wait);
      return;
    }
    try {
      await recordCaughtUp(this.control, this.slot, lsn);
      this.#recorded = lsn;
      this.#recordedAt = Date.now();
    } catch (error) {
      this.lc.warn({ err: error, lsn: formatLsn(lsn) }, 'could not record the caught-up position');
    }
  }

  /** No deferred record after this (the session ends). */
  stop(): void {
    if (this.#deferred) clearTimeout(this.#deferred);
    this.#deferred = null;
  }
}

export interface HeartbeatInput {
  lc: Logger;
  metrics: Metrics;
  slot: string;
  control: pg.Client;
  source: pg.Client;
  caughtUp: CaughtUpRecorder;
  /** Where the stream is: the server's last WAL end, the caught-up position, the oldest uncommitted source commit time. */
  position(): { serverWalEnd: Lsn; caughtUp: Lsn; oldestPendingCommitTime: number | null };
  /** Further work at each beat. */
  extra?(): Promise<void>;
}

async function beat(input: HeartbeatInput): Promise<void> {
  const { metrics, slot: slotName, control } = input;
  const position = input.position();
  const oldest = position.oldestPendingCommitTime;
  const lagSeconds = oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
  const slot = await inspectSlot(input.source, slotName);
  metrics.lagSeconds.set(lagSeconds);
  if (slot?.confirmedFlushLsn != null)
    metrics.lagBytes.set(Math.max(0, Number(slot.currentWalLsn - slot.confirmedFlushLsn)));
  if (slot?.retainedWalBytes != null) metrics.retainedWalBytes.set(slot.retainedWalBytes);
  metrics.slotActive.set({ slot: slotName }, slot?.active ? 1 : 0);
  const tables = await readTableRows(control, slotName);
  metrics.setTables(tables.map((t) => ({ table: `${t.schema}.${t.table}`, state: t.state, selected: t.selected })));
  const policies = await readColumnPolicies(control, slotName);
  metrics.setColumnPolicies(policies.map((p) => ({ table: `${p.schema}.${p.table}`, entries: p.entries })));
  await recordHeartbeat(control, slotName, {
    status: 'streaming',
    receivedLsn: position.serverWalEnd,
    lagSeconds,
    slot,
  });
  await input.caughtUp.record(position.caughtUp, true);
  await input.extra?.();
}

/** Beat now and every few seconds until the returned function is called. A failed beat is logged, never fatal. */
export function startHeartbeat(input: HeartbeatInput): () => void {
  const safely = () => beat(input).catch((error: Error) => input.lc.warn({ err: error }, 'could not record heartbeat'));
  const timer = setInterval(() => void safely(), HEARTBEAT_INTERVAL_MS);
  void safely();
  return () => clearInterval(timer);
}
