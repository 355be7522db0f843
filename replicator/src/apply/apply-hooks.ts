/**
 * How an online resync talks to the running apply loop, which stays the only writer:
 *
 * - a mirror: while a table is being copied again, the apply loop also records that
 *   table's changes (in the same destination transaction as the rows) in
 *   `elt.resync_delta`, so none of them is lost for the new copy;
 * - boundary tasks: work the apply loop runs between two source transactions, inside its
 *   destination transaction and committed with it (the swap of the new copy). A task may
 *   wait for a stream position: it runs only once every source transaction that committed
 *   before that LSN has been applied (a copy taken at a snapshot point L is swapped in only
 *   then, or the stream would apply again what the copy already holds);
 * - the stopped tables: the apply loop skips their changes (but still mirrors them), and the
 *   swap of a resync's copy resumes them.
 *
 * The mirror holds changes as JSON text, so a value bigger than MIRROR_VALUE_MAX_BYTES cannot
 * go into it (a string that size would not fit elt's heap). Such a change spoils the mirror:
 * the resync fails at its swap with the reason, and the table goes on as it was.
 */
import type { Applier } from './applier.js';
import { changeValues, type RowChange } from './batch.js';
import { StoppedTables } from './stopped-tables.js';
import type { Lsn } from '../lsn.js';
import { UNCHANGED_TOAST, type Tuple } from '../source/pgoutput.js';

/** A change as stored in elt.resync_delta. */
export type DeltaChange = RowChange | { op: 'truncate'; lsn: Lsn };

interface BoundaryTask {
  /** Runs once the applied stream has reached this LSN. */
  notBefore: Lsn;
  run(applier: Applier): Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

/** The biggest value a change held aside for a resync may carry. */
export const MIRROR_VALUE_MAX_BYTES = 16 * 1024 * 1024;

export class ApplyHooks {
  /** "schema.table" → the resync job recording that table's changes. */
  readonly #mirrors = new Map<string, number>();
  /** Resync job → why its mirror missed a change (its copy can never be completed). */
  readonly #spoiled = new Map<number, string>();
  readonly #tasks: BoundaryTask[] = [];
  readonly stopped = new StoppedTables();

  mirror(schema: string, table: string, jobId: number): void {
    this.#mirrors.set(`${schema}.${table}`, jobId);
  }

  unmirror(schema: string, table: string): void {
    this.#mirrors.delete(`${schema}.${table}`);
  }

  /** The mirror of the table cannot hold a change: stop mirroring; its resync fails at the swap with `reason`. */
  spoil(schema: string, table: string, reason: string): void {
    const jobId = this.#mirrors.get(`${schema}.${table}`);
    if (jobId === undefined) return;
    this.#mirrors.delete(`${schema}.${table}`);
    this.#spoiled.set(jobId, reason);
  }

  /** Why the job's mirror missed a change, if it did (asked once, at the swap). */
  takeSpoiled(jobId: number): string | undefined {
    const reason = this.#spoiled.get(jobId);
    this.#spoiled.delete(jobId);
    return reason;
  }

  /** The resync job that wants this table's changes, if any. */
  mirroredBy(schema: string, table: string): number | undefined {
    return this.#mirrors.get(`${schema}.${table}`);
  }

  /**
   * Run `work` between two source transactions, in the apply transaction, once every source
   * transaction committed before `notBefore` is applied; resolves after its commit.
   */
  atBoundary(work: (applier: Applier) => Promise<void>, notBefore: Lsn = 0n): Promise<void> {
    return new Promise((resolve, reject) => this.#tasks.push({ notBefore, run: work, resolve, reject }));
  }

  /** The stream stopped: tasks waiting for a boundary will not get one. */
  cancelPending(error: Error): void {
    for (const task of this.#tasks.splice(0)) task.reject(error);
  }

  /** Some task may run now: the stream has applied everything before `position`. */
  hasDueTasks(position: Lsn): boolean {
    return this.#tasks.some((task) => task.notBefore <= position);
  }

  /** Some task waits for the stream to reach a later position. */
  hasWaitingTasks(position: Lsn): boolean {
    return this.#tasks.some((task) => task.notBefore > position);
  }

  /**
   * Called by the apply loop at a boundary, with the end LSN of the last source transaction
   * it has applied (or a keepalive's WAL position past it). Each due task runs under a savepoint: a failing task
   * is rolled back alone (its resync fails) and the apply transaction goes on. Returns the
   * callback that settles the tasks once the transaction has committed (or failed to).
   */
  async runBoundaryTasks(applier: Applier, position: Lsn): Promise<{ settle(commitError?: unknown): void }> {
    const tasks = this.#tasks.filter((task) => task.notBefore <= position);
    for (const task of tasks) this.#tasks.splice(this.#tasks.indexOf(task), 1);
    const outcomes: unknown[] = [];
    for (const task of tasks) {
      await applier.query('SAVEPOINT elt_boundary_task');
      try {
        await task.run(applier);
        await applier.query('RELEASE SAVEPOINT elt_boundary_task');
        outcomes.push(null);
      } catch (error) {
        await applier.query('ROLLBACK TO SAVEPOINT elt_boundary_task');
        outcomes.push(error ?? new Error('boundary task failed'));
      }
    }
    return {
      settle: (commitError?: unknown) => {
        tasks.forEach((task, i) => {
          const error = commitError ?? outcomes[i];
          if (error) task.reject(error);
          else task.resolve();
        });
      },
    };
  }
}

const UNCHANGED_JSON = { unchanged: true };

function encodeTuple(tuple: Tuple | undefined): unknown {
  return tuple?.map((v) => (v === UNCHANGED_TOAST ? UNCHANGED_JSON : v === null ? null : v.toString('utf8')));
}

function decodeTuple(value: unknown): Tuple | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((v) =>
    v === null ? null : typeof v === 'object' ? UNCHANGED_TOAST : Buffer.from(v as string, 'utf8'),
  );
}

/** The size of the biggest value a change carries, in bytes. */
export function largestValue(change: DeltaChange): number {
  if (change.op === 'truncate') return 0;
  let largest = 0;
  for (const value of changeValues(change)) largest = Math.max(largest, value.length);
  return largest;
}

export function encodeDelta(change: DeltaChange): string {
  return JSON.stringify({
    op: change.op,
    lsn: change.lsn.toString(),
    new: 'new' in change ? encodeTuple(change.new) : undefined,
    key: 'key' in change ? encodeTuple(change.key) : undefined,
    old: 'old' in change ? encodeTuple(change.old) : undefined,
  });
}

export function decodeDelta(json: {
  op: DeltaChange['op'];
  lsn: string;
  new?: unknown;
  key?: unknown;
  old?: unknown;
}): DeltaChange {
  const lsn = BigInt(json.lsn);
  if (json.op === 'truncate') return { op: 'truncate', lsn };
  const key = decodeTuple(json.key);
  const old = decodeTuple(json.old);
  const change = { op: json.op, lsn, new: decodeTuple(json.new), ...(key && { key }), ...(old && { old }) };
  return change as RowChange;
}
