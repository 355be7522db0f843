/**
 * Every metric of the replicator, in one registry, served as Prometheus text on
 * ELT_METRICS_PORT (/metrics). Names carry their unit, as Prometheus asks.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly appliedChanges = new Counter({
    name: 'elt_applied_changes_total',
    help: 'Row changes applied to the destination, by table and operation.',
    labelNames: ['table', 'operation'] as const,
    registers: [this.registry],
  });
  readonly appliedTransactions = new Counter({
    name: 'elt_applied_transactions_total',
    help: 'Source transactions applied to the destination.',
    registers: [this.registry],
  });
  readonly batchRows = new Histogram({
    name: 'elt_apply_batch_rows',
    help: 'Row changes per destination transaction.',
    buckets: [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'elt_apply_batch_duration_seconds',
    help: 'Time to commit one destination transaction (apply of the staged rows included).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly lagBytes = new Gauge({
    name: 'elt_replication_lag_bytes',
    help: 'WAL bytes between the source current position and the slot confirmed position.',
    registers: [this.registry],
  });
  readonly retainedWalBytes = new Gauge({
    name: 'elt_slot_retained_wal_bytes',
    help: 'WAL the source keeps for the slot (current WAL position minus the slot restart LSN).',
    registers: [this.registry],
  });
  readonly lagSeconds = new Gauge({
    name: 'elt_replication_lag_seconds',
    help: 'Seconds from the source commit of the oldest unapplied transaction to now; 0 when caught up.',
    registers: [this.registry],
  });
  readonly appliedLsn = new Gauge({
    name: 'elt_applied_lsn_bytes',
    help: 'End LSN of the last source transaction committed in the destination, as a byte position.',
    registers: [this.registry],
  });
  readonly snapshotRows = new Gauge({
    name: 'elt_snapshot_rows',
    help: 'Rows copied by the snapshot so far, by table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly snapshotRowsEstimated = new Gauge({
    name: 'elt_snapshot_rows_estimated',
    help: 'Estimated rows of each table being snapshotted.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly resyncRows = new Gauge({
    name: 'elt_resync_rows',
    help: 'Rows copied by the running resync so far, by table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly resyncRowsEstimated = new Gauge({
    name: 'elt_resync_rows_estimated',
    help: 'Estimated rows of each table being resynced.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly resyncJobs = new Counter({
    name: 'elt_resync_jobs_total',
    help: 'Resync jobs finished, by outcome (succeeded, failed, cancelled).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly prunedRows = new Counter({
    name: 'elt_soft_deleted_rows_pruned_total',
    help: 'Soft-deleted rows removed from the replica after their retention (or by a prune job), by table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly pruneJobs = new Counter({
    name: 'elt_prune_jobs_total',
    help: 'Prune passes over soft-deleted rows finished, by outcome (succeeded, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly verifyRowsChecked = new Counter({
    name: 'elt_verify_rows_checked_total',
    help: 'Source rows the verifier compared with the replica, by table.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly verifyRowsDiffering = new Gauge({
    name: 'elt_verify_rows_differing',
    help: 'Rows that differed between the source and the replica at the last verification of each table (confirmed at two points).',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly slotActive = new Gauge({
    name: 'elt_slot_active',
    help: '1 when a walsender is reading the replication slot (pg_replication_slots.active), else 0.',
    labelNames: ['slot'] as const,
    registers: [this.registry],
  });
  readonly tableState = new Gauge({
    name: 'elt_table_state',
    help: '1 for the state each replicated table is in (snapshotting, streaming, resyncing, error, excluded), as in elt.tables.',
    labelNames: ['table', 'state'] as const,
    registers: [this.registry],
  });
  readonly tableSelected = new Gauge({
    name: 'elt_table_selected',
    help: '1 when ELT_INCLUDE_TABLES / ELT_EXCLUDE_TABLES select the table, 0 when they leave it out, as in elt.tables.',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly columnPolicy = new Gauge({
    name: 'elt_table_column_policy',
    help: '1 for each source column ELT_EXCLUDE_COLUMNS leaves out (policy exclude) or ELT_MASK_COLUMNS masks (policy hash, null or redact:N), as its replica holds it (elt.tables.column_policy).',
    labelNames: ['table', 'column', 'policy'] as const,
    registers: [this.registry],
  });
  readonly state = new Gauge({
    name: 'elt_replicator_state',
    help: '1 for the state the replicator is in (starting, snapshotting, streaming, retrying).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'elt_errors_total',
    help: 'Errors that ended a replication attempt or stopped a table, by kind: the SQLSTATE (e.g. 53100 disk full, 23514 check violation), the network error (e.g. ECONNRESET), or the error class.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly reconnects = new Counter({
    name: 'elt_reconnects_total',
    help: 'Replication attempts started after a failure.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Counters an alert watches with increase() start at zero, so the first failure shows.
    for (const outcome of ['succeeded', 'failed', 'cancelled']) this.resyncJobs.inc({ outcome }, 0);
    for (const outcome of ['succeeded', 'failed']) this.pruneJobs.inc({ outcome }, 0);
  }

  static readonly TABLE_STATES = ['snapshotting', 'streaming', 'resyncing', 'error', 'excluded'] as const;

  /** The tables of elt.tables as they are now: a table no longer there leaves no series behind. */
  setTables(tables: { table: string; state: string; selected: boolean }[]): void {
    this.tableState.reset();
    this.tableSelected.reset();
    for (const { table, state, selected } of tables) {
      for (const s of Metrics.TABLE_STATES) this.tableState.set({ table, state: s }, s === state ? 1 : 0);
      this.tableSelected.set({ table }, selected ? 1 : 0);
    }
  }

  setColumnPolicies(tables: { table: string; entries: { column: string; policy: string }[] }[]): void {
    this.columnPolicy.reset();
    for (const { table, entries } of tables)
      for (const { column, policy } of entries) this.columnPolicy.set({ table, column, policy }, 1);
  }

  setState(state: 'starting' | 'snapshotting' | 'streaming' | 'retrying'): void {
    for (const s of ['starting', 'snapshotting', 'streaming', 'retrying'])
      this.state.set({ state: s }, s === state ? 1 : 0);
  }

  /** Serve /metrics; port 0 serves nothing. */
  async serve(port: number): Promise<Server | null> {
    if (port === 0) return null;
    const server = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (error: Error) => response.writeHead(500).end(error.message),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, resolve);
    });
    return server;
  }
}

/**
 * The `kind` label of elt_errors_total: the SQLSTATE a server answered with, else the
 * network error code, else the error's class. A bounded set, and one an alert can name.
 */
export function errorKind(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `sqlstate_${code}`;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  return error.name;
}
