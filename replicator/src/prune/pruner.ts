/**
 * Pruning of old soft-deleted rows, done by the replicator itself (the one writer of the
 * replica). A pass starts when a prune job is queued (POST /v1/prune, NOTIFY elt_prune) or,
 * with ELT_SOFT_DELETE_RETENTION, every ELT_PRUNE_INTERVAL. The apply loop gives it a turn
 * between its destination transactions, on the apply connection: each turn is one short
 * statement (claim a job, or remove one chunk of rows), so it never holds locks for long and
 * never runs beside an apply of the same rows. Tables not streaming (being resynced,
 * stopped) are left for the next pass.
 */
import type { ClientBase } from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { PRUNE_CHANNEL } from '../state/control.js';
import { formatDuration } from './duration.js';
import {
  claimPruneJob,
  finishPruneJob,
  hasQueuedPruneJob,
  prunableTables,
  recordPruned,
  requeueInterruptedPruneJobs,
  startRetentionJob,
  streamingTarget,
  type PruneJob,
  type ReplicaTable,
} from '../state/prune-jobs.js';
import { pruneChunkSql } from './prune-sql.js';

/** Rows removed by one statement at most. */
export const PRUNE_CHUNK_ROWS = 5_000;
/** `requested_by` of the passes the retention setting starts. */
export const RETENTION_REQUESTER = 'ELT_SOFT_DELETE_RETENTION';

interface Pass {
  job: PruneJob;
  /** Tables still to prune, the current one first. */
  tables: ReplicaTable[];
  /** Rows removed from the current table so far. */
  tableRows: number;
  rows: number;
}

export class Pruner {
  #pass: Pass | null = null;
  /** A job may be queued: look at the queue on the next turn. */
  #jobQueued = true;
  /** When the retention setting next starts a pass (ms since the epoch). */
  #nextRetentionPass: number;

  constructor(
    private readonly lc: Logger,
    private readonly config: Pick<Config, 'slot' | 'softDeleteRetention' | 'pruneInterval'>,
    private readonly metrics: Metrics,
  ) {
    this.#nextRetentionPass = config.softDeleteRetention === null ? Number.POSITIVE_INFINITY : Date.now();
  }

  /** Restart the passes a previous run left unfinished and hear of new jobs (NOTIFY) on this connection. */
  async listen(control: ClientBase): Promise<void> {
    const requeued = await requeueInterruptedPruneJobs(control, this.config.slot);
    if (requeued > 0) this.lc.warn({ jobs: requeued }, 'prune jobs interrupted by a restart start over');
    control.on('notification', (message) => {
      if (message.channel === PRUNE_CHANNEL) this.#jobQueued = true;
    });
    await control.query(`LISTEN ${PRUNE_CHANNEL}`);
  }

  /** The heartbeat's look at the queue, in case a notification was missed. */
  async poll(control: ClientBase): Promise<void> {
    if (!this.#jobQueued && (await hasQueuedPruneJob(control, this.config.slot))) this.#jobQueued = true;
  }

  /** There is work: a pass under way, a job maybe queued, or a retention pass due. */
  get due(): boolean {
    return this.#pass !== null || this.#jobQueued || Date.now() >= this.#nextRetentionPass;
  }

  /**
   * One turn, on the apply connection with no transaction open: start a pass, or remove one
   * chunk of the current table, or finish the pass. A failure is recorded and logged, never
   * thrown: replication goes on (a lost connection shows in the apply loop's next statement).
   */
  async step(db: ClientBase): Promise<void> {
    const pass = this.#pass;
    try {
      if (pass === null) this.#pass = await this.#start(db);
      else if (pass.tables.length === 0) await this.#finish(db, pass, null);
      else await this.#pruneChunk(db, pass);
    } catch (error) {
      this.#pass = null;
      if (pass !== null)
        await this.#finish(db, pass, error).catch(() => {
          // Recording the failed pass failed too (the connection is gone): the attempt's own error is what counts.
        });
      else {
        this.#jobQueued = false;
        this.metrics.pruneJobs.inc({ outcome: 'failed' });
        this.lc.error(
          { err: error },
          'a prune pass could not start; replication goes on and the next pass tries again',
        );
      }
    }
  }

  async #start(db: ClientBase): Promise<Pass | null> {
    let job = this.#jobQueued ? await claimPruneJob(db, this.config.slot) : null;
    if (job === null) this.#jobQueued = false;
    const retention = this.config.softDeleteRetention;
    if (job === null && retention !== null && Date.now() >= this.#nextRetentionPass) {
      this.#nextRetentionPass = Date.now() + this.config.pruneInterval * 1000;
      job = await startRetentionJob(db, this.config.slot, retention, RETENTION_REQUESTER);
    }
    if (job === null) return null;
    const tables = await prunableTables(db, this.config.slot);
    this.lc.info(
      {
        job: job.id,
        olderThan: formatDuration(job.olderThanSeconds),
        cutoff: job.cutoff,
        requestedBy: job.requestedBy,
        tables: tables.length,
      },
      'prune pass started: removing soft-deleted rows marked deleted before the cutoff',
    );
    return { job, tables, tableRows: 0, rows: 0 };
  }

  async #pruneChunk(db: ClientBase, pass: Pass): Promise<void> {
    const current = pass.tables[0]!;
    const label = `${current.sourceSchema}.${current.sourceTable}`;
    const target = await streamingTarget(db, this.config.slot, current);
    if (target === null) {
      this.lc.info(
        { job: pass.job.id, table: label },
        'prune: table skipped, it is not streaming (resync or error); the next pass takes it',
      );
      this.#nextTable(pass);
      return;
    }
    const result = await db.query(pruneChunkSql(target.schema, target.table, PRUNE_CHUNK_ROWS), [pass.job.cutoff]);
    const removed = result.rowCount ?? 0;
    if (removed > 0) {
      await recordPruned(db, pass.job.id, label, removed);
      this.metrics.prunedRows.inc({ table: label }, removed);
      pass.tableRows += removed;
      pass.rows += removed;
    }
    if (removed < PRUNE_CHUNK_ROWS) {
      if (pass.tableRows > 0)
        this.lc.info({ job: pass.job.id, table: label, rows: pass.tableRows }, 'prune: soft-deleted rows removed');
      this.#nextTable(pass);
    }
  }

  #nextTable(pass: Pass): void {
    pass.tables.shift();
    pass.tableRows = 0;
  }

  async #finish(db: ClientBase, pass: Pass, error: unknown): Promise<void> {
    this.#pass = null;
    const message = error === null ? null : error instanceof Error ? error.message : JSON.stringify(error);
    this.metrics.pruneJobs.inc({ outcome: message === null ? 'succeeded' : 'failed' });
    if (message === null) this.lc.info({ job: pass.job.id, rows: pass.rows }, 'prune pass finished');
    else
      this.lc.error(
        { job: pass.job.id, rows: pass.rows, err: error },
        'prune pass failed; replication goes on and the next pass tries again',
      );
    await finishPruneJob(db, pass.job.id, message);
  }
}
