/**
 * What the scenarios share: the run's options and clusters, and per dataset the two
 * consumers under test (our replicator and the native subscription), the heartbeat
 * writer on the source and a heartbeat reader on each destination.
 */
import type { BenchOptions } from './options.js';
import type { Clusters } from './clusters.js';
import type { Dataset } from './datasets.js';
import type { Heartbeat, HeartbeatReader } from './heartbeat.js';
import type { Ours, OursOptions } from './ours.js';
import type { NativeSubscription } from './reference.js';
import type { Distribution } from './stats.js';

export interface BenchContext {
  options: BenchOptions;
  clusters: Clusters;
  /** Replicator output and profiles of this run. */
  logDir: string;
  log(message: string): void;
}

export interface DatasetRun {
  dataset: Dataset;
  /** Our replicator's slot on the source and its destination database (schema staging). */
  slot: string;
  oursUrl: string;
  oursOptions: OursOptions;
  /** Null while it is stopped (backlog, big transaction). */
  ours: Ours | null;
  native: NativeSubscription;
  heartbeat: Heartbeat;
  oursReader: HeartbeatReader;
  nativeReader: HeartbeatReader;
}

/** The end-of-scenario copy check; a failed one prints FAIL instead of the scenario's figures. */
export interface Check {
  ok: boolean;
  detail: string;
}

export type System = 'elt' | 'native' | 'pg_dump | psql' | 'pg_dump -Fd | pg_restore';

export interface SnapshotRow {
  dataset: string;
  method: string;
  system: System;
  seconds: number;
  mbPerSecond: number;
  rowsPerSecond: number;
  /** Speed relative to pg_dump | psql of the same dataset (higher is faster). */
  speedVsDumpPsql: number | null;
  check: Check;
  note?: string;
}

export interface SteadyRow {
  load: string;
  system: System;
  /** Source transactions per second of the load. */
  tps: number;
  lagBytes: Distribution;
  lagSeconds: Distribution;
  /** From the end of the load until the destination showed the final heartbeat. */
  catchUpSeconds: number;
  keptUp: boolean;
  check: Check;
}

export interface BacklogRow {
  system: System;
  changes: number;
  /** From the slot becoming active to the destination showing the backlog's last heartbeat. */
  seconds: number;
  changesPerSecond: number;
  /** Process start (ours) or ALTER SUBSCRIPTION ENABLE (native) until the slot is active. */
  startupSeconds: number;
  speedVsNative: number | null;
  check: Check;
}

export interface BigTransactionRow {
  system: System;
  rows: number;
  /** Seconds the source's UPDATE took until its COMMIT returned. */
  sourceSeconds: number;
  /** From COMMIT on the source to the destination showing the transaction. */
  commitToAppliedSeconds: number;
  timeVsNative: number | null;
  peakRssBytes: number | null;
  check: Check;
  note?: string;
}

export interface ScenarioError {
  scenario: string;
  message: string;
}

export interface VerifyRow {
  phase: string;
  /** ELT_VERIFY_MAX_ROWS_PER_S, or null for no limit / no verification. */
  maxRowsPerS: number | null;
  /** Verification runs (whole dataset each). */
  runs: number;
  rows: number;
  /** Time spent verifying. */
  seconds: number;
  rowsPerSecond: number;
  /** Our replicator's lag while the load ran; null without a load. */
  lagSeconds: Distribution | null;
  /** Every verification found the replica equal (under load: no false positive). */
  check: Check;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; postgres: string; node: string };
  options: Omit<BenchOptions, 'only'> & { only: string[] };
  datasets: Dataset[];
  snapshot: SnapshotRow[];
  steady: SteadyRow[];
  backlog: BacklogRow[];
  bigTransaction: BigTransactionRow[];
  verify: VerifyRow[];
  errors: ScenarioError[];
}
