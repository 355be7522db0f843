/**
 * One table of the snapshot: its copy tasks, run by the snapshot's pool of connections.
 *
 * A table in one part is one destination transaction: its rows, its indexes and its
 * `streaming` state commit together. A table split into parts (./table-parts.ts) is one task
 * per part, each copying its block range in a transaction of its own while the table's state
 * stays `snapshotting`; the part that settles last builds the indexes and marks the table
 * `streaming` in one more transaction. So a table is `streaming` only when every part and
 * index has committed; a crash before that leaves it `snapshotting`, and the resumed snapshot
 * empties it before copying it again (./resume-snapshot.ts).
 *
 * A deterministic failure (a row or an index the destination refuses) marks the table `error`
 * with the reason and leaves it empty; a transient one is thrown and ends the attempt.
 */
import { columnPolicyFrom } from '../source/column-policy.js';
import type pg from 'pg';
import type { Config } from '../config.js';
import { classifyFailure, TableFailure, tableFailureReason } from '../failures.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ProgressReporter, TableProgress } from '../progress/reporter.js';
import type { TableEstimate } from '../progress/table-estimate.js';
import { createReplicaIndexes } from '../schema/create-replica.js';
import type { ReplicaPlan, TablePlan } from '../schema/replica-ddl.js';
import { connectDestination } from '../source/source-db.js';
import { qualified } from '../sql.js';
import { recordSnapshotProgress, upsertTable } from '../state/control.js';
import { recordReplicaColumns, type TableIdentity } from '../state/replica-columns.js';
import { copyTableAtSnapshot } from './copy-table.js';
import type { CopyFormat } from './copy-rows.js';
import { partCondition, type TablePart } from './table-parts.js';

/**
 * maintenance_work_mem of a snapshot's index builds, when the destination's is lower: a key of
 * a few million rows is then sorted in memory instead of on disk (at most one build per copy job).
 */
const INDEX_BUILD_MEMORY = '256MB';

export interface SnapshotContext {
  lc: Logger;
  config: Config;
  metrics: Metrics;
  progress: ProgressReporter;
  plan: ReplicaPlan;
  snapshotName: string;
  /** The control connection (a failed table's state is written here, outside its transactions). */
  control: pg.Client;
  /** The replica tables copied so far, schema-qualified (ANALYZEd once the snapshot is done). */
  copied: string[];
}

export interface TableToCopy {
  table: TablePlan;
  identity: TableIdentity | undefined;
  estimate: TableEstimate;
  parts: TablePart[];
  /** How its rows travel, every part alike (./copy-table.ts). */
  format: CopyFormat;
}

/** A copy the pool runs; resolves to the rows a finished table holds (0 until the table is done). */
export type CopyTask = () => Promise<number>;

/** The table's copy tasks, in part order. */
export function tableTasks(ctx: SnapshotContext, copy: TableToCopy): CopyTask[] {
  if (copy.parts.length === 1) return [() => copyWholeTable(ctx, copy)];
  const split = new SplitTable(ctx, copy);
  return copy.parts.map((part) => () => split.copyPart(part));
}

/** A table in one part: rows, indexes and state in one destination transaction. */
async function copyWholeTable(ctx: SnapshotContext, copy: TableToCopy): Promise<number> {
  const started = Date.now();
  const shown = ctx.progress.table('snapshot', label(copy), copy.estimate);
  const db = await connectDestination(ctx.config.destinationUrl, 'elt-snapshot-copy');
  try {
    await db.query('BEGIN');
    const rows = await copyPart(ctx, db, copy, copy.parts[0]!, (r, b) => {
      ctx.metrics.snapshotRows.set({ table: label(copy) }, r);
      shown.update(r, b);
    });
    const rowsIn = Date.now();
    await finishInTransaction(ctx, db, copy, rows);
    await db.query('COMMIT');
    copied(ctx, copy, rows, { started, copied: rowsIn, committed: Date.now() });
    return rows;
  } catch (error) {
    await rollback(db);
    await failTable(ctx, copy, error, false);
    return 0;
  } finally {
    shown.end();
    await db.end();
  }
}

/** The parts of one split table: their counts, and the one that settles last finishes the table. */
class SplitTable {
  readonly #rows: number[];
  readonly #bytes: number[];
  #settled = 0;
  #failure: unknown = null;
  #shown: TableProgress | null = null;
  #started = 0;

  constructor(
    private readonly ctx: SnapshotContext,
    private readonly copy: TableToCopy,
  ) {
    this.#rows = copy.parts.map(() => 0);
    this.#bytes = copy.parts.map(() => 0);
  }

  async copyPart(part: TablePart): Promise<number> {
    if (!this.#shown) {
      this.#started = Date.now();
      this.#shown = this.ctx.progress.table('snapshot', label(this.copy), this.copy.estimate);
    }
    try {
      // After a part failed, the table ends in error: its other parts are not copied.
      if (this.#failure === null) await this.#copy(part);
    } catch (error) {
      this.#failure ??= error;
      if (classifyFailure(error) === 'transient') throw error;
    }
    if (++this.#settled < this.copy.parts.length) return 0;
    return this.#finish();
  }

  async #copy(part: TablePart): Promise<void> {
    const db = await connectDestination(this.ctx.config.destinationUrl, 'elt-snapshot-copy');
    try {
      await db.query('BEGIN');
      await copyPart(this.ctx, db, this.copy, part, (r, b) => this.#count(part, r, b));
      await db.query('COMMIT');
    } catch (error) {
      await rollback(db);
      throw error;
    } finally {
      await db.end();
    }
  }

  #count(part: TablePart, rows: number, bytes: number): void {
    this.#rows[part.index] = rows;
    this.#bytes[part.index] = bytes;
    const total = sum(this.#rows);
    this.ctx.metrics.snapshotRows.set({ table: label(this.copy) }, total);
    this.#shown?.update(total, sum(this.#bytes));
  }

  /** Every part has committed (or failed): build the indexes and mark the table streaming, or fail it. */
  async #finish(): Promise<number> {
    this.#shown?.end();
    if (this.#failure !== null) {
      await failTable(this.ctx, this.copy, this.#failure, true);
      return 0;
    }
    const rows = sum(this.#rows);
    const rowsIn = Date.now();
    const db = await connectDestination(this.ctx.config.destinationUrl, 'elt-snapshot-index');
    try {
      await db.query('BEGIN');
      await finishInTransaction(this.ctx, db, this.copy, rows);
      await db.query('COMMIT');
      copied(this.ctx, this.copy, rows, {
        started: this.#started,
        copied: rowsIn,
        committed: Date.now(),
      });
      return rows;
    } catch (error) {
      await rollback(db);
      await failTable(this.ctx, this.copy, error, true);
      return 0;
    } finally {
      await db.end();
    }
  }
}

/** Copy one part (or the whole table) into `db`'s open transaction; returns the rows. */
function copyPart(
  ctx: SnapshotContext,
  db: pg.ClientBase,
  copy: TableToCopy,
  part: TablePart,
  onProgress: (rows: number, bytes: number) => void,
): Promise<number> {
  const { schema, name, kind } = copy.table.table;
  return copyTableAtSnapshot(db, {
    sourceUrl: ctx.config.sourceUrl,
    snapshotName: ctx.snapshotName,
    source: { schema, name, kind },
    target: { schema: copy.table.targetSchema, name },
    columns: copy.table.copyColumns,
    masks: { methods: copy.table.copyMasks, policy: columnPolicyFrom(ctx.config) },
    where: partCondition(part),
    format: copy.format,
    onProgress,
  });
}

/** The table's indexes, the end of the snapshot's `_lsn` default and its `streaming` state, in `db`'s transaction. */
async function finishInTransaction(ctx: SnapshotContext, db: pg.ClientBase, copy: TableToCopy, rows: number) {
  const { schema, name } = copy.table.table;
  await db.query(
    `SELECT set_config('maintenance_work_mem', $1, true)
     WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes($1)`,
    [INDEX_BUILD_MEMORY],
  );
  const keyProblem = await createReplicaIndexes(ctx.lc, db, ctx.plan, copy.table);
  if (keyProblem) throw new TableFailure(schema, name, keyProblem, 'Resync the table once the cause is fixed.');
  await db.query(`ALTER TABLE ${qualified(copy.table.targetSchema, name)} ALTER COLUMN _lsn DROP DEFAULT`);
  await recordSnapshotProgress(db, ctx.config.slot, schema, name, rows, true);
  if (copy.identity) await recordReplicaColumns(db, ctx.config.slot, copy.identity);
}

/** When a table's copy started, when its rows were all in, when its indexes and state committed (ms). */
interface Phases {
  started: number;
  copied: number;
  committed: number;
}

/** A table is copied: counted, logged with where its time went, and queued for ANALYZE after the snapshot. */
function copied(ctx: SnapshotContext, copy: TableToCopy, rows: number, at: Phases): void {
  ctx.metrics.snapshotRows.set({ table: label(copy) }, rows);
  ctx.copied.push(qualified(copy.table.targetSchema, copy.table.table.name));
  ctx.lc.info(
    {
      table: label(copy),
      rows,
      parts: copy.parts.length,
      format: copy.format,
      seconds: (at.committed - at.started) / 1000,
      copySeconds: (at.copied - at.started) / 1000,
      indexSeconds: (at.committed - at.copied) / 1000,
    },
    'table copied',
  );
}

/**
 * A transient failure is thrown (the attempt ends). A deterministic one marks the table
 * `error`; the committed parts of a split table are removed first, so it is left empty.
 */
async function failTable(ctx: SnapshotContext, copy: TableToCopy, error: unknown, empty: boolean): Promise<void> {
  if (classifyFailure(error) === 'transient') throw error;
  const { schema, name } = copy.table.table;
  const reason = `Copying the table failed: ${tableFailureReason(error)}`;
  ctx.lc.error({ table: label(copy), err: error }, 'table not replicated: the destination refused its copy');
  if (empty) await ctx.control.query(`TRUNCATE ${qualified(copy.table.targetSchema, name)}`);
  await upsertTable(ctx.control, ctx.config.slot, {
    sourceSchema: schema,
    sourceTable: name,
    targetSchema: copy.table.targetSchema,
    targetTable: name,
    state: 'error',
    lastError: reason,
  });
}

async function rollback(db: pg.ClientBase): Promise<void> {
  await db.query('ROLLBACK').catch(() => {
    // The connection is gone: the transaction went with it.
  });
}

function label(copy: TableToCopy): string {
  return `${copy.table.table.schema}.${copy.table.table.name}`;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
