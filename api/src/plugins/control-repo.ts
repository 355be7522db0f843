/**
 * Everything the API reads from and writes to the `elt` control schema in the destination.
 *
 * The API keeps no state of its own. It reads what the replicator records
 * (`elt.replication_state`, `elt.tables`, the resync job rows) and writes only resync
 * requests and their cancellation, through the replicator's own statements (state/resync-queue.ts):
 * a job and its tables in one transaction, with `pg_notify(elt_resync, id)` in the same
 * transaction so the replicator hears of the job exactly when it becomes visible.
 *
 * Table names from clients are only ever compared, as parameters, with the names in
 * `elt.tables` (the catalog of what is replicated); they never become SQL.
 */
import type { FastifyInstance } from 'fastify';
import type { Pool, PoolClient } from 'pg';
import { RUNNING_PERCENT_MAX } from '../../../replicator/src/progress/meter.js';
import {
  activeJobsOf,
  enqueueResync,
  readResyncCandidates,
  requestJobCancel,
} from '../../../replicator/src/state/resync-queue.js';
import {
  readJob,
  readJobs,
  readJobTables,
  readReadiness,
  readState,
  readTables,
  readVerifyResults,
  type JobRow,
} from '../../../replicator/src/state/read-model.js';
import { conflict, notFound } from '../errors.js';
import type { TableResponse } from '../schemas/tables.js';
import type { ResyncJob, ResyncJobSummary } from '../schemas/resync.js';
import type { StatusResponse } from '../schemas/status.js';
import type { VerifyResult } from '../schemas/verify.js';
import { tableStates, type jobStates } from '../schemas/common.js';
import { globalPlugin } from './global-plugin.js';

declare module 'fastify' {
  interface FastifyInstance {
    controlRepo: ControlRepository;
  }
}

type JobState = (typeof jobStates)[number];
type TableState = (typeof tableStates)[number];

/** What /ready needs to decide. */
export interface Readiness {
  phase: string;
  status: string;
  walStatus: string | null;
  lastError: string | null;
  heartbeatAgeSeconds: number | null;
}

export type QueueRequest = { tables: string[]; requestedBy: string } | { all: true; requestedBy: string };

export type CancelOutcome = 'cancelled' | 'cancel_requested';

/**
 * rows_copied of rows_estimated in percent, one decimal; 100 once done; null without an
 * estimate. Until done it stays at most 99.9: an estimate that fell short is no end.
 */
export function progressPercent(state: JobState, rowsCopied: number, rowsEstimated: number | null): number | null {
  if (state === 'succeeded') return 100;
  if (rowsEstimated === null || rowsEstimated <= 0) return null;
  return Math.min(RUNNING_PERCENT_MAX, Math.round((rowsCopied / rowsEstimated) * 1000) / 10);
}

/** A job as the API shows it (its state is one the control schema's CHECK allows). */
function toSummary(row: JobRow): ResyncJobSummary {
  const state = row.state as JobState;
  return {
    id: row.id,
    slot: row.slot,
    state,
    requested_at: row.requested_at,
    requested_by: row.requested_by,
    started_at: row.started_at,
    finished_at: row.finished_at,
    cancel_requested: row.cancel_requested,
    error: row.error,
    progress: {
      tables_total: row.tables_total,
      tables_done: row.tables_done,
      rows_copied: row.rows_copied,
      rows_estimated: row.rows_estimated,
      percent: progressPercent(state, row.rows_copied, row.rows_estimated),
    },
  };
}

export class ControlRepository {
  constructor(
    readonly pool: Pool,
    readonly slot: string,
  ) {}

  /** The destination answers. */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** The replicator's last word about this slot, or null when it never wrote one. */
  async readiness(): Promise<Readiness | null> {
    const row = await readReadiness(this.pool, this.slot);
    if (!row) return null;
    return {
      phase: row.phase,
      status: row.status,
      walStatus: row.wal_status,
      lastError: row.last_error,
      heartbeatAgeSeconds: row.age,
    };
  }

  /** The status of the slot (state/read-model.ts readState: one statement, one snapshot of elt.*). */
  async status(heartbeatMaxAgeS: number): Promise<StatusResponse | null> {
    const row = await readState(this.pool, this.slot);
    if (!row) return null;
    const { by_state: counted, ...state } = row;
    const byState = Object.fromEntries(tableStates.map((name) => [name, counted[name] ?? 0])) as Record<
      TableState,
      number
    >;
    const age = state.heartbeat_age_seconds;
    return {
      ...state,
      phase: state.phase as StatusResponse['phase'],
      heartbeat_fresh: age !== null && age <= heartbeatMaxAgeS,
      tables: { total: Object.values(byState).reduce((sum, n) => sum + n, 0), by_state: byState },
    };
  }

  async listTables(state?: TableState): Promise<TableResponse[]> {
    return (await readTables(this.pool, this.slot, { state })) as TableResponse[];
  }

  /** One table by its `schema.table` name, or null when it is not in the catalog. */
  async getTable(name: string): Promise<TableResponse | null> {
    const [row] = await readTables(this.pool, this.slot, { name });
    return (row as TableResponse | undefined) ?? null;
  }

  /** The last verification of each table; none while the replicator has not upgraded the schema to have them. */
  async verifyResults(): Promise<VerifyResult[]> {
    return (await readVerifyResults(this.pool, this.slot)) as VerifyResult[];
  }

  /**
   * Queue a resync job: check every name against the catalog, refuse tables that already
   * have a queued or running resync (409), insert the job and its tables and notify the
   * replicator, all in one transaction. Returns the job id.
   */
  async queueResync(request: QueueRequest): Promise<number> {
    return this.transaction(async (client) => {
      const wanted = 'all' in request ? null : [...new Set(request.tables)];
      const found = await readResyncCandidates(client, this.slot, wanted);
      const byName = new Map(found.map((row) => [row.name, row]));
      if (wanted) {
        const unknown = wanted.filter((name) => !byName.has(name));
        if (unknown.length > 0) {
          throw notFound(
            `Not replicated for slot ${this.slot}: ${unknown.map((n) => JSON.stringify(n)).join(', ')}. Name tables as schema.table; GET /v1/tables lists them.`,
          );
        }
      }
      const excluded = found.filter((row) => row.state === 'excluded');
      if (wanted && excluded.length > 0) {
        throw notFound(
          `Excluded from replication, so there is nothing to resync: ${excluded.map((r) => r.name).join(', ')}.`,
        );
      }
      const tables = found.filter((row) => row.state !== 'excluded');
      if (tables.length === 0)
        throw notFound(
          `No tables are replicated for slot ${this.slot} yet: start the replicator (elt replicate) first.`,
        );

      const active = await activeJobsOf(client, this.slot, tables);
      if (active.length > 0) {
        const list = active.map((a) => `${a.name} (job ${a.jobId})`).join(', ');
        throw conflict(
          `A resync is already queued or running for ${list}: wait for it to finish, or cancel it with DELETE /v1/resync/{id}.`,
        );
      }
      // One job takes them all: a concurrent request that queued one of them first makes the
      // unique index refuse this one (a 409, see ../errors.ts), never a job with fewer tables.
      const id = await enqueueResync(client, this.slot, tables, request.requestedBy, { refuseActive: true });
      return id!;
    });
  }

  async listJobs(limit: number, state?: JobState): Promise<ResyncJobSummary[]> {
    return (await readJobs(this.pool, this.slot, limit, state)).map(toSummary);
  }

  /** One job with its tables, or null when this slot has no job with that id. */
  async getJob(id: string | number): Promise<ResyncJob | null> {
    const row = await readJob(this.pool, this.slot, id);
    if (!row) return null;
    const tables = await readJobTables(this.pool, id);
    return {
      ...toSummary(row),
      tables: tables.map((t) => ({
        ...t,
        state: t.state as JobState,
        percent: progressPercent(t.state as JobState, t.rows_copied, t.rows_estimated),
      })),
    };
  }

  /**
   * Cancel a job. A queued job (and its tables) becomes `cancelled` at once; a running one
   * gets `cancel_requested` and the replicator stops it. Cancelling a cancelled job is a
   * no-op; a finished job is a 409. Returns null when this slot has no such job.
   */
  async cancelJob(id: string): Promise<CancelOutcome | null> {
    return this.transaction(async (client) => {
      const before = await requestJobCancel(client, this.slot, id);
      if (before === null) return null;
      if (before === 'succeeded' || before === 'failed') {
        throw conflict(`Resync job ${id} has already ${before}: there is nothing to cancel.`);
      }
      return before === 'running' ? 'cancel_requested' : 'cancelled';
    });
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

export interface ControlRepoOptions {
  slot: string;
}

/** Decorates the app with `controlRepo`, on the pool of the db plugin. */
export const controlRepoPlugin = globalPlugin(
  'control-repo',
  async (app: FastifyInstance, options: ControlRepoOptions) => {
    app.decorate('controlRepo', new ControlRepository(app.db, options.slot));
  },
);
